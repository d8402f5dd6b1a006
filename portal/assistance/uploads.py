"""Proof of income: checked by its content, kept outside the web root under a random name.

A file is what its first bytes say it is (a PDF begins "%PDF-", a PNG with its eight-byte signature, a JPEG with
FF D8 FF), and it must also be what its name and the browser claim: a PNG named "payslip.pdf" is refused, as is
anything else. Files live in ``FINANCIAL_ASSISTANCE_UPLOAD_DIR`` (by default ``assistance-documents`` in the
instance folder), never under ``static/``; staff download them through a view that checks who asks.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass

from flask import current_app

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 3
SIGNATURES = (("pdf", b"%PDF-"), ("png", b"\x89PNG\r\n\x1a\n"), ("jpeg", b"\xff\xd8\xff"))
EXTENSIONS = {"pdf": {".pdf"}, "png": {".png"}, "jpeg": {".jpg", ".jpeg"}}
MIMETYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}


class UploadError(ValueError):
    """A file that cannot be taken: ``code`` is "too_large", "empty", "not_allowed" or "mismatch"."""

    def __init__(self, code: str, filename: str) -> None:
        super().__init__(code)
        self.code = code
        self.filename = filename


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def clean_filename(name: str) -> str:
    """The patient's file name, safe to show: no path, no control characters, at most 200 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(char for char in base if unicodedata.category(char)[0] != "C").strip()
    return base[:200] or "document"


def kind_of(data: bytes) -> str | None:
    return next((kind for kind, signature in SIGNATURES if data.startswith(signature)), None)


def check(filename: str, mimetype: str | None, data: bytes) -> CheckedFile:
    """Take one uploaded file, or raise UploadError saying why not."""
    name = clean_filename(filename)
    if not data:
        raise UploadError("empty", name)
    if len(data) > MAX_BYTES:
        raise UploadError("too_large", name)
    kind = kind_of(data)
    if kind is None:
        raise UploadError("not_allowed", name)
    extension = os.path.splitext(name)[1].lower()
    claimed = (mimetype or "").split(";")[0].strip().lower()
    if extension not in EXTENSIONS[kind] or (claimed and claimed not in (MIMETYPES[kind], "application/octet-stream")):
        raise UploadError("mismatch", name)
    return CheckedFile(kind, name, data)


def directory() -> str:
    path = current_app.config["FINANCIAL_ASSISTANCE_UPLOAD_DIR"] or os.path.join(current_app.instance_path,
                                                                                  "assistance-documents")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def store(checked: CheckedFile) -> str:
    """Write the file under a new random name; returns that name."""
    name = f"{secrets.token_hex(16)}.{checked.kind}"
    target = os.path.join(directory(), name)
    # Exclusive creation: a name is never reused, and nothing already there is overwritten.
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(checked.data)
    return name


def path_of(stored_name: str) -> str:
    # Stored names are ours (hex and a kind); anything else never reaches the disk.
    if not stored_name.replace(".", "").isalnum() or os.sep in stored_name:
        raise FileNotFoundError(stored_name)
    return os.path.join(directory(), stored_name)


def remove(stored_name: str) -> None:
    try:
        os.remove(path_of(stored_name))
    except FileNotFoundError:
        pass
