"""Glossary and dictionary use cases: load the built-in content, import a billing office's entries,
find terms, and name the services on a bill in plain language."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import insert, select

from ..extensions import db
from .cache import cached, content_changed, current_token
from .content import CONTENT_DIR, SOURCE_LOCALE, Content, EntryRecord, TermRecord, code_kind, read_content
from .markup import TermIndex
from .models import SOURCE_BUILTIN, SOURCE_LOCAL, GlossaryTerm, ServiceDescription


@dataclass(frozen=True)
class LoadReport:
    terms: dict[str, int]
    entries: dict[str, int]


def _term_row(locale: str, term: TermRecord) -> dict:
    return dict(locale=locale, slug=term.slug, title=term.title, synonyms=list(term.synonyms),
                matches=list(term.matches), short_definition=term.short, explanation=term.explanation,
                example=term.example, related=list(term.related))


def _entry_row(source: str, locale: str, entry: EntryRecord) -> dict:
    return dict(source=source, locale=locale, code_system=entry.code_system, code_first=entry.code_first,
                code_last=entry.code_last, name=entry.name, explanation=entry.explanation)


def _sync(model: type, existing: Iterable, key: Callable[[object], tuple], wanted: dict[tuple, dict]) -> bool:
    """Make the rows ``existing`` equal ``wanted`` (by key): update in place, add, delete; unchanged rows stay.
    Whether anything changed."""
    seen = set()
    changed = False
    for row in list(existing):
        k = key(row)
        values = wanted.get(k)
        if values is None:
            db.session.delete(row)
            changed = True
            continue
        seen.add(k)
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
    new = [values for k, values in wanted.items() if k not in seen]
    if new:
        db.session.flush()  # deletions first, so that a re-added key does not collide
        db.session.execute(insert(model), new)
    return changed or bool(new)


def load_builtin(content: Content) -> LoadReport:
    """Make the glossary and the built-in dictionary equal ``content``; the office's own entries stay.

    Rows are updated in place rather than replaced, so that loading the same files again changes nothing.
    """
    terms = {(locale, t.slug): _term_row(locale, t) for locale, items in content.glossary.items() for t in items}
    changed = _sync(GlossaryTerm, db.session.scalars(select(GlossaryTerm)), lambda r: (r.locale, r.slug), terms)
    entries = {(locale, e.code_system, e.code_first, e.code_last): _entry_row(SOURCE_BUILTIN, locale, e)
               for locale, items in content.dictionary.items() for e in items}
    changed = _sync(ServiceDescription,
                    db.session.scalars(select(ServiceDescription).where(ServiceDescription.source == SOURCE_BUILTIN)),
                    lambda r: (r.locale, r.code_system, r.code_first, r.code_last), entries) or changed
    db.session.flush()
    if changed or current_token() is None:
        content_changed()
    return LoadReport({k: len(v) for k, v in content.glossary.items()},
                      {k: len(v) for k, v in content.dictionary.items()})


def load_builtin_content(directory=CONTENT_DIR) -> LoadReport:  # noqa: ANN001 (a Path)
    """Read the shipped content files and load them; raise ContentError, loading nothing, if any is wrong."""
    return load_builtin(read_content(directory))


# --- The billing office's own dictionary entries ----------------------------------------------------

@dataclass(frozen=True)
class ImportReport:
    rows: int
    same_as_builtin: int
    added: int
    changed: int
    removed: int
    kept: int

    @property
    def own_entries(self) -> int:
        return self.added + self.changed + self.kept


def _entries(source: str, locale: str) -> dict[tuple[str, str, str], ServiceDescription]:
    rows = db.session.scalars(select(ServiceDescription).where(ServiceDescription.source == source,
                                                               ServiceDescription.locale == locale))
    return {(r.code_system, r.code_first, r.code_last): r for r in rows}


def import_dictionary(entries: list[EntryRecord], locale: str) -> ImportReport:
    """Make ``entries`` the office's own dictionary for ``locale``.

    The file is the whole dictionary the office wants: rows that repeat the built-in wording are not
    stored (so an edited export stores only the edits), and own entries missing from the file are
    removed, which brings back the built-in wording for those codes.
    """
    builtin = _entries(SOURCE_BUILTIN, locale)
    existing = _entries(SOURCE_LOCAL, locale)
    wanted: dict[tuple[str, str, str], EntryRecord] = {}
    same = 0
    for entry in entries:
        base = builtin.get(entry.key)
        if base is not None and (base.name, base.explanation) == (entry.name, entry.explanation):
            same += 1
        else:
            wanted[entry.key] = entry
    added = changed = kept = 0
    for key, entry in wanted.items():
        row = existing.get(key)
        if row is None:
            db.session.add(ServiceDescription(**_entry_row(SOURCE_LOCAL, locale, entry)))
            added += 1
        elif (row.name, row.explanation) != (entry.name, entry.explanation):
            row.name, row.explanation = entry.name, entry.explanation
            changed += 1
        else:
            kept += 1
    removed = 0
    for key, row in existing.items():
        if key not in wanted:
            db.session.delete(row)
            removed += 1
    db.session.flush()
    if added or changed or removed:
        content_changed()
    return ImportReport(len(entries), same, added, changed, removed, kept)


def dictionary_entries(locale: str, *, own_only: bool = False) -> list[ServiceDescription]:
    """The dictionary as patients see it in ``locale``: the office's entries over the built-in ones."""
    merged = {} if own_only else _entries(SOURCE_BUILTIN, locale)
    merged.update(_entries(SOURCE_LOCAL, locale))
    return sorted(merged.values(), key=lambda e: (e.code_system, e.code_first, e.code_last))


# --- Naming the services on a bill ------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceName:
    """What a line is called on a bill: a dictionary entry, or the chargemaster's words as a fallback."""

    name: str
    explanation: str | None
    from_dictionary: bool


def normalise_code(code_system: str, code: str) -> str:
    code = code.strip().upper()
    # Billing systems often drop leading zeros: revenue codes have four digits, CVX codes at least two.
    if code_system == "revenue" and code.isdigit() and len(code) == 3:
        code = "0" + code
    elif code_system == "cvx" and code.isdigit() and len(code) == 1:
        code = "0" + code
    return code


class DictionaryEntry(NamedTuple):
    """A dictionary row as read for a page: plain values, no ORM bookkeeping (pages read hundreds)."""

    code_system: str
    code_first: str
    code_last: str
    name: str
    explanation: str
    locale: str
    source: str

    @property
    def code(self) -> str:
        return self.code_first if self.code_first == self.code_last else f"{self.code_first}-{self.code_last}"


def _width(entry: DictionaryEntry) -> int:
    """How many codes a range spans (0 for one code); a Category II or III range counts by its digits."""
    first, last = entry.code_first, entry.code_last
    if first == last:
        return 0
    if code_kind(first) != "0":
        first, last = first[:-1], last[:-1]
    return int(last) - int(first) if first.isdigit() and last.isdigit() else 10 ** 9


def _preference(entry: DictionaryEntry, locale: str) -> tuple:
    # The patient's language first; then the most specific entry (an exact code, then the narrowest
    # range); for the very same codes, the billing office's own wording over the built-in one.
    return (entry.locale != locale, _width(entry), entry.source != SOURCE_LOCAL)


class _Dictionary(NamedTuple):
    """One language's dictionary (with the source language's), arranged for naming the codes of a page."""

    exact: dict[tuple[str, str], list[DictionaryEntry]]
    # Ranges grouped by what a code must share with one to fall in it (system, length, CPT category), so that
    # a long statement compares each code with its own group only.
    ranges: dict[tuple[str, int, str], list[DictionaryEntry]]


def _dictionary(locale: str) -> _Dictionary:
    def build() -> _Dictionary:
        table = ServiceDescription
        rows = db.session.execute(
            select(table.code_system, table.code_first, table.code_last, table.name, table.explanation,
                   table.locale, table.source).where(table.locale.in_({locale, SOURCE_LOCALE}))).all()
        exact: dict[tuple[str, str], list[DictionaryEntry]] = {}
        ranges: dict[tuple[str, int, str], list[DictionaryEntry]] = {}
        for row in rows:
            entry = DictionaryEntry(*row)
            if entry.code_first == entry.code_last:
                exact.setdefault((entry.code_system, entry.code_first), []).append(entry)
            else:
                key = (entry.code_system, len(entry.code_first), code_kind(entry.code_first))
                ranges.setdefault(key, []).append(entry)
        return _Dictionary(exact, ranges)

    return cached(("dictionary", locale), build)


def describe_codes(codes: Iterable[tuple[str, str]], locale: str) -> dict[tuple[str, str], DictionaryEntry]:
    """Find the best dictionary entry for each (code system, code)."""
    wanted = {(system, normalise_code(system, code)) for system, code in codes}
    dictionary = _dictionary(locale) if wanted else None
    found = {}
    for system, code in wanted:
        if not code:
            continue
        # Range ends and codes are compared as Python strings, not by the database's collation.
        matching = [*dictionary.exact.get((system, code), ()),
                    *(e for e in dictionary.ranges.get((system, len(code), code_kind(code)), ())
                      if e.code_first <= code <= e.code_last)]
        if matching:
            found[(system, code)] = min(matching, key=lambda e: _preference(e, locale))
    return found


def service_names(lines: Iterable, locale: str) -> dict[int, ServiceName]:
    """Name each line (anything with id, code_system, code, description) in plain language, by line id."""
    lines = list(lines)
    entries = describe_codes(((line.code_system, line.code) for line in lines), locale)
    names = {}
    for line in lines:
        entry = entries.get((line.code_system, normalise_code(line.code_system, line.code)))
        if entry is None:
            names[line.id] = ServiceName(line.description, None, False)
        else:
            names[line.id] = ServiceName(entry.name, entry.explanation, True)
    return names


# --- Finding glossary terms --------------------------------------------------------------------------

def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` for searching and sorting."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Arabic indexes file a word under its first letter after the definite article: "التأمين" under ت, not ا.
_ARTICLES = {"ar": ("ال",)}


def index_form(title: str, locale: str) -> str:
    """The form of a term's title that the glossary sorts and files it by, in ``locale``'s custom."""
    folded = fold(title)
    for article in _ARTICLES.get(locale.split("_")[0], ()):
        if folded.startswith(article) and len(folded) > len(article) + 1:
            return folded[len(article):]
    return folded


def glossary_terms(locale: str) -> list[GlossaryTerm]:
    """Every term in ``locale`` (terms not yet translated in the source language), in its alphabetical order.

    The terms are kept by the worker between requests (``cache.py``), detached from any database session:
    read them, never change them."""

    def build() -> list[GlossaryTerm]:
        rows = db.session.scalars(select(GlossaryTerm).where(GlossaryTerm.locale.in_({locale, SOURCE_LOCALE}))).all()
        by_slug: dict[str, GlossaryTerm] = {}
        for row in rows:
            db.session.expunge(row)
            if row.slug not in by_slug or row.locale == locale:
                by_slug[row.slug] = row
        return sorted(by_slug.values(), key=lambda t: index_form(t.title, t.locale))

    return cached(("terms", locale), build)


def term_index(locale: str) -> TermIndex:
    """The phrases of ``locale``'s glossary, ready for a page's marker."""
    return cached(("index", locale), lambda: TermIndex(glossary_terms(locale)))


def _searchable(text: str) -> str:
    # "out of pocket" finds "out-of-pocket maximum", and "co pay" finds "co-pay".
    return " ".join(fold(text).replace("-", " ").split())


def search_terms(terms: list[GlossaryTerm], query: str) -> list[GlossaryTerm]:
    """Terms matching ``query``: those it names first, then those that mention it."""
    form = _searchable
    needle = form(query)
    if not needle:
        return []  # only punctuation: nothing to look for
    named, mentioned = [], []
    for term in terms:
        if any(needle in form(name) for name in (*term.names, *term.matches)):
            named.append(term)
        elif any(needle in form(text) for text in (term.short_definition, term.explanation, term.example)):
            mentioned.append(term)
    return named + mentioned


def find_term(name: str, locale: str) -> GlossaryTerm | None:
    """The term with this slug, title or synonym, so that ``/glossary/copay`` finds copayment."""
    key = _searchable(name)
    for term in glossary_terms(locale):
        if term.slug == name or any(_searchable(n) == key for n in (*term.names, *term.matches)):
            return term
    return None
