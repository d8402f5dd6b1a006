"""Rendered statement PDFs on disk, one file per statement, language and content version.

A file is named ``<number>.<locale>.<version>.pdf`` (an itemised bill's locale part is ``<locale>-itemised``,
so that it and the statement are kept side by side); a new version of a statement (a payment posted, a line
corrected) has a new name, so a stale PDF is never served, and the older files of that statement and
language are removed when the new one is stored. Files are written to a temporary name and renamed, so a
reader never sees half a PDF, even with several workers or machines sharing the folder.
"""
from __future__ import annotations

import os
import re
import tempfile

from flask import current_app

_SAFE = re.compile(r"^[0-9A-Za-z_-]+$")


def cache_dir() -> str:
    return current_app.config["STATEMENT_PDF_CACHE_DIR"] or os.path.join(current_app.instance_path, "statement-pdfs")


def _folder(number: str) -> str:
    # Sharded by the number's last two digits, so that no folder holds a whole hospital's statements.
    return os.path.join(cache_dir(), number[-2:].rjust(2, "0"))


def _name(number: str, locale: str, version: str) -> str:
    for part in (number, locale, version):
        if not _SAFE.match(part):
            raise ValueError("unsafe part in a cached statement's file name")
    return f"{number}.{locale}.{version}.pdf"


def path_for(number: str, locale: str, version: str) -> str:
    return os.path.join(_folder(number), _name(number, locale, version))


def read(number: str, locale: str, version: str) -> bytes | None:
    """The cached PDF, or None when this version has not been printed yet (or was just replaced)."""
    try:
        with open(path_for(number, locale, version), "rb") as cached:
            return cached.read()
    except FileNotFoundError:
        return None
    except OSError:
        # An unreadable cache is a cache miss: the statement is printed afresh.
        current_app.logger.warning("statement %s: the PDF cache could not be read", number, exc_info=True)
        return None


def store(number: str, locale: str, version: str, pdf: bytes) -> str:
    """Keep ``pdf`` as this version, remove older versions of the same statement and language."""
    path = path_for(number, locale, version)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pdf")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(pdf)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    # Another version printed at the same moment may be removed too: it is printed again when next asked
    # for. Files are found by version, so a stale one is never served either way.
    prefix, keep = f"{number}.{locale}.", os.path.basename(path)
    for entry in os.scandir(folder):
        if entry.name.startswith(prefix) and entry.name.endswith(".pdf") and entry.name != keep:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:  # another worker removed it first
                pass
    return path


def _remove(folder: str, prefix: str) -> int:
    """Remove the PDFs in ``folder`` whose names start with ``prefix``; count only those removed here (one
    removed by someone else meanwhile is not counted, and a file being written, ``.tmp-``, is left alone)."""
    removed = 0
    for entry in os.scandir(folder):
        if entry.name.startswith(prefix) and entry.name.endswith(".pdf") and not entry.name.startswith(".tmp-"):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def clear() -> int:
    """Remove every cached PDF; returns how many were removed. Safe while others print."""
    root = cache_dir()
    if not os.path.isdir(root):
        return 0
    return sum(_remove(folder.path, "") for folder in os.scandir(root) if folder.is_dir())


def discard(number: str) -> int:
    """Remove every cached PDF of statement ``number`` (all languages and versions); returns how many.

    Versions already keep a changed statement from being served stale; this frees the disk at once when an
    import corrects a statement, instead of at its next download."""
    if not _SAFE.match(number):
        raise ValueError("unsafe statement number")
    folder = _folder(number)
    return _remove(folder, f"{number}.") if os.path.isdir(folder) else 0
