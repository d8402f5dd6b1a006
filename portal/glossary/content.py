"""Read and check glossary (TOML) and service dictionary (CSV) files.

Pure parsing: bytes in, plain records or a ``ContentError`` out, never the database. Every problem is
reported with its file, line and reason, all at once, so that a translator or billing office can fix a
file in one pass; a file with any problem is never partly loaded.
"""
from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError

CONTENT_DIR = Path(__file__).parent / "content"
# The language the content is written in; every other language's file translates its terms.
SOURCE_LOCALE = "en"

DICTIONARY_COLUMNS = ("code_system", "code", "name", "explanation")

# What a code of each system looks like; only CPT and revenue codes are described by ranges.
CODE_FORMATS = {
    "cpt": re.compile(r"\d{4}[0-9FTU]"),  # Category I, II (…F), III (…T) and PLA (…U) codes
    "hcpcs": re.compile(r"[A-V]\d{4}"),  # HCPCS Level II
    "revenue": re.compile(r"\d{4}"),  # UB-04 revenue codes keep their leading zero
    "snomed": re.compile(r"\d{6,18}"),
    "cvx": re.compile(r"\d{1,3}"),
}
RANGE_SYSTEMS = frozenset({"cpt", "revenue"})

NAME_MAX = 120
SHORT_MAX_WORDS = 30
SHORT_MAX_CHARACTERS = 90  # for languages written without spaces
EXPLANATION_MAX = 400
MAX_REPORTED = 50

_TERM_KEYS = {"title", "short", "explanation", "example", "synonyms", "matches", "related"}
_REQUIRED_TERM_KEYS = ("title", "short", "explanation", "example")
_LIST_TERM_KEYS = ("synonyms", "matches", "related")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Element ids the glossary page uses itself; a term's anchor must not take one of them.
_RESERVED_SLUGS = re.compile(r"main|q|q-hint|results-heading|letter-\d+")
_TERM_HEADER = re.compile(r"""^\s*\[\s*terms\s*\.\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*\]""")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line else f"{self.file}: {self.reason}"


class ContentError(ValueError):
    """One or more problems in content files; nothing from them may be loaded."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems[:MAX_REPORTED]))


@dataclass(frozen=True)
class TermRecord:
    slug: str
    title: str
    short: str
    explanation: str
    example: str
    synonyms: tuple[str, ...] = ()
    matches: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class EntryRecord:
    code_system: str
    code_first: str
    code_last: str
    name: str
    explanation: str
    line: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.code_system, self.code_first, self.code_last

    @property
    def code(self) -> str:
        return self.code_first if self.code_first == self.code_last else f"{self.code_first}-{self.code_last}"


@dataclass
class Content:
    """Every built-in file, parsed: glossary terms and dictionary entries by locale."""

    glossary: dict[str, list[TermRecord]] = field(default_factory=dict)
    dictionary: dict[str, list[EntryRecord]] = field(default_factory=dict)


def decode(data: bytes, filename: str) -> str:
    """Decode UTF-8 (with or without the byte-order mark spreadsheets add); say where it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ContentError([Problem(filename, line, f"not UTF-8 text (byte 0x{data[error.start]:02x} at column "
                                                    f"{column}); save the file as UTF-8")]) from None


def check_locale(locale: str, filename: str) -> str:
    """Return the locale in Babel's canonical form (``EN`` is ``en``, ``zh-Hans`` is ``zh_Hans``)."""
    try:
        return str(Locale.parse(locale.replace("-", "_")))
    except (ValueError, TypeError, UnknownLocaleError):
        raise ContentError([Problem(filename, None, f"unknown language {locale!r}")]) from None


# Control characters and the invisible direction overrides used to disguise text have no place in content.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _unsafe(text: str) -> str | None:
    match = _UNSAFE.search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


# --- Glossary ---------------------------------------------------------------------------------------

def _term_lines(text: str) -> dict[str, int]:
    lines = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _TERM_HEADER.match(line)
        if match:
            lines.setdefault(next(g for g in match.groups() if g), number)
    return lines


def _string_list(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() and not _unsafe(v) for v in value):
        return tuple(" ".join(v.split()) for v in value)
    return None


def parse_glossary(data: bytes, filename: str) -> list[TermRecord]:
    """Parse one glossary file; raise ContentError naming every problem."""
    text = decode(data, filename)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        raise ContentError([Problem(filename, line, _TOML_POSITION.sub("", message))]) from None
    problems: list[Problem] = []
    extra = set(document) - {"terms"}
    if extra:
        problems.append(Problem(filename, None, f"unknown section {sorted(extra)[0]!r}; terms go in [terms.<slug>]"))
    tables = document.get("terms")
    if not isinstance(tables, dict) or not tables:
        problems.append(Problem(filename, None, "no terms: each term is a [terms.<slug>] table"))
        raise ContentError(problems)
    lines = _term_lines(text)
    terms: list[TermRecord] = []
    for slug, table in tables.items():
        line = lines.get(slug)
        if not _SLUG.fullmatch(slug):
            problems.append(Problem(filename, line, f"term {slug!r}: a slug is lower-case letters, digits and "
                                                    "hyphens"))
            continue
        if _RESERVED_SLUGS.fullmatch(slug):
            problems.append(Problem(filename, line, f"term {slug!r}: this slug is used by the glossary page "
                                                    "itself; choose another"))
            continue
        if not isinstance(table, dict):
            problems.append(Problem(filename, line, f"term {slug!r} must be a table"))
            continue
        bad = False
        for key in sorted(set(table) - _TERM_KEYS):
            problems.append(Problem(filename, line, f"term {slug!r}: unknown key {key!r}"))
            bad = True
        values: dict[str, object] = {}
        for key in _REQUIRED_TERM_KEYS:
            value = table.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(Problem(filename, line, f"term {slug!r}: missing {key!r}"))
                bad = True
            elif not isinstance(value, str):
                problems.append(Problem(filename, line, f"term {slug!r}: {key!r} must be text in quotes"))
                bad = True
            elif _unsafe(value):
                problems.append(Problem(filename, line, f"term {slug!r}: {key!r} contains the invisible "
                                                        f"character {_unsafe(value)}"))
                bad = True
            else:
                values[key] = " ".join(value.split()) if key in ("title", "short") else value.strip()
        for key in _LIST_TERM_KEYS:
            value = _string_list(table.get(key, []))
            if value is None:
                problems.append(Problem(filename, line, f"term {slug!r}: {key!r} must be a list of words"))
                bad = True
            else:
                values[key] = value
        if not bad:
            problems.extend(_check_term_text(slug, values, filename, line))
            terms.append(TermRecord(slug=slug, line=line, **values))  # type: ignore[arg-type]
    problems.extend(_check_terms(terms, filename))
    if problems:
        raise ContentError(problems)
    return sorted(terms, key=lambda t: t.slug)


def _check_term_text(slug: str, values: dict, filename: str, line: int | None) -> list[Problem]:
    """The rules every language's glossary keeps: a short title, a short definition, numbers in the example."""
    problems = []
    if len(values["title"]) > NAME_MAX:
        problems.append(Problem(filename, line, f"term {slug!r}: title longer than {NAME_MAX} characters"))
    short = values["short"]
    # Words are counted where a language writes spaces between them; otherwise by length.
    too_long = len(short.split()) > SHORT_MAX_WORDS if " " in short else len(short) > SHORT_MAX_CHARACTERS
    if too_long:
        problems.append(Problem(filename, line, f"term {slug!r}: 'short' is longer than {SHORT_MAX_WORDS} "
                                                "words; it is shown in a small box on bills"))
    if not any(c.isdigit() for c in values["example"]):
        problems.append(Problem(filename, line, f"term {slug!r}: 'example' needs numbers, such as amounts"))
    return problems


def _check_terms(terms: list[TermRecord], filename: str) -> list[Problem]:
    """Each phrase names one term, and related terms exist."""
    problems = []
    slugs = {t.slug for t in terms}
    owner: dict[str, str] = {}
    for term in terms:
        for phrase in (term.title, *term.synonyms, *term.matches):
            key = phrase.casefold()
            if key in owner and owner[key] != term.slug:
                problems.append(Problem(filename, term.line, f"term {term.slug!r}: {phrase!r} already names term "
                                                             f"{owner[key]!r}"))
            owner.setdefault(key, term.slug)
        for slug in term.related:
            if slug == term.slug:
                problems.append(Problem(filename, term.line, f"term {term.slug!r}: a term is not related to itself"))
            elif slug not in slugs:
                problems.append(Problem(filename, term.line, f"term {term.slug!r}: related term {slug!r} does not "
                                                             "exist"))
    return problems


# --- Service dictionary ----------------------------------------------------------------------------

def parse_code(code_system: str, text: str) -> tuple[str, str] | str:
    """Return (first, last) for a code or a ``FIRST-LAST`` range, or the reason it is not valid."""
    pattern = CODE_FORMATS[code_system]
    code = text.strip().upper()
    first, separator, last = code.partition("-")
    if not separator:
        last = first
    elif code_system not in RANGE_SYSTEMS:
        return f"a {code_system} code cannot be a range"
    first, last = first.strip(), last.strip()
    for part in (first, last):
        if not pattern.fullmatch(part):
            if code_system == "revenue" and part.isdigit() and len(part) == 3:
                return f"revenue code {part!r} needs its leading zero: '0{part}'"
            return f"{part!r} is not a {code_system} code"
    if code_system == "cpt" and first == last:
        # The AMA owns the descriptions of single CPT codes; a plain category covers a range of them.
        return (f"CPT code {first!r} on its own: describe CPT codes by range, as a plain category "
                "(for example 99281-99285)")
    if code_kind(first) != code_kind(last):
        return f"range {code!r} mixes kinds of code"
    if first > last:
        return f"range {code!r} runs backwards"
    return first, last


def code_kind(code: str) -> str:
    """CPT Category I codes end in a digit, Category II in F, III in T: ranges never mix them."""
    return code[-1] if code[-1].isalpha() else "0"


def parse_dictionary(data: bytes, filename: str) -> list[EntryRecord]:
    """Parse one dictionary CSV; raise ContentError naming every problem."""
    text = decode(data, filename)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ContentError([Problem(filename, 1, f"not a CSV file ({error})")]) from None
    if header is None:
        raise ContentError([Problem(filename, None, "the file is empty")])
    header = [h.strip().lower() for h in header]
    missing = [c for c in DICTIONARY_COLUMNS if c not in header]
    unknown = [c for c in header if c not in DICTIONARY_COLUMNS]
    if missing:
        problems.append(Problem(filename, 1, "missing column " + ", ".join(repr(c) for c in missing)
                                + "; the header must be " + ",".join(DICTIONARY_COLUMNS)))
    if unknown:
        problems.append(Problem(filename, 1, "unknown column " + ", ".join(repr(c) for c in unknown)))
    if len(set(header)) != len(header):
        problems.append(Problem(filename, 1, "a column appears twice"))
    if problems:
        raise ContentError(problems)
    index = {name: header.index(name) for name in DICTIONARY_COLUMNS}
    entries: list[EntryRecord] = []
    seen: dict[tuple[str, str, str], int] = {}
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(filename, start, f"not valid CSV ({error})"))
            break
        line = start
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(filename, line, f"expected {len(header)} values, found {len(row)} (a value "
                                                    "with a comma in it needs double quotes)"))
            continue
        entry = _dictionary_row({name: row[i] for name, i in index.items()}, filename, line, problems)
        if entry is None:
            continue
        if entry.key in seen:
            problems.append(Problem(filename, line, f"{entry.code_system} {entry.code} is already on line "
                                                    f"{seen[entry.key]}"))
            continue
        seen[entry.key] = line
        entries.append(entry)
    if problems:
        raise ContentError(problems)
    return entries


def _dictionary_row(row: dict[str, str], filename: str, line: int, problems: list[Problem]) -> EntryRecord | None:
    code_system = row["code_system"].strip().lower()
    name = " ".join(row["name"].split())
    explanation = " ".join(row["explanation"].split())
    before = len(problems)
    if code_system not in CODE_FORMATS:
        problems.append(Problem(filename, line, f"unknown code system {row['code_system'].strip()!r}; use one of "
                                                + ", ".join(CODE_FORMATS)))
        return None
    code = parse_code(code_system, row["code"])
    if isinstance(code, str):
        problems.append(Problem(filename, line, code))
    for column, value in (("name", name), ("explanation", explanation)):
        if _unsafe(value):
            problems.append(Problem(filename, line, f"the {column} contains the invisible character {_unsafe(value)}"))
    if not name:
        problems.append(Problem(filename, line, "the name is empty"))
    elif len(name) > NAME_MAX:
        problems.append(Problem(filename, line, f"the name is longer than {NAME_MAX} characters"))
    if not explanation:
        problems.append(Problem(filename, line, "the explanation is empty"))
    elif len(explanation) > EXPLANATION_MAX:
        problems.append(Problem(filename, line, f"the explanation is longer than {EXPLANATION_MAX} characters"))
    if len(problems) > before or isinstance(code, str):
        return None
    return EntryRecord(code_system, code[0], code[1], name, explanation, line)


def write_dictionary(entries: Iterable[EntryRecord | object], stream: io.TextIOBase) -> int:
    """Write entries (anything with code_system, code, name, explanation) as dictionary CSV."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(DICTIONARY_COLUMNS)
    count = 0
    for entry in entries:
        writer.writerow([entry.code_system, entry.code, entry.name, entry.explanation])  # type: ignore[attr-defined]
        count += 1
    return count


# --- The built-in content folder --------------------------------------------------------------------

def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ContentError([Problem(path.name, None, f"cannot be read ({error.strerror})")]) from None


_GLOSSARY_FILE = re.compile(r"glossary\.([A-Za-z_]+)\.toml")
_DICTIONARY_FILE = re.compile(r"dictionary\.([A-Za-z_]+)\.csv")


def read_content(directory: Path = CONTENT_DIR) -> Content:
    """Parse every ``glossary.<locale>.toml`` and ``dictionary.<locale>.csv`` in ``directory``.

    Translations must use the source language's slugs, so that a link to a term works in every language.
    """
    content = Content()
    problems: list[Problem] = []
    for path in sorted(directory.iterdir()):
        for pattern, parse, target in ((_GLOSSARY_FILE, parse_glossary, content.glossary),
                                       (_DICTIONARY_FILE, parse_dictionary, content.dictionary)):
            match = pattern.fullmatch(path.name)
            if not match:
                continue
            try:
                locale = check_locale(match.group(1), path.name)
                if locale in target:
                    raise ContentError([Problem(path.name, None, f"a second file for {locale!r}")])
                target[locale] = parse(_read(path), path.name)
            except ContentError as error:
                problems.extend(error.problems)
    # The folder is the whole content: a missing source file would otherwise empty its table.
    for name, loaded in ((f"glossary.{SOURCE_LOCALE}.toml", content.glossary),
                         (f"dictionary.{SOURCE_LOCALE}.csv", content.dictionary)):
        if SOURCE_LOCALE not in loaded and not any(p.file == name for p in problems):
            problems.append(Problem(str(directory), None, f"no {name}"))
    source_slugs = {t.slug for t in content.glossary.get(SOURCE_LOCALE, [])}
    for locale, terms in content.glossary.items():
        for term in terms:
            if source_slugs and term.slug not in source_slugs:
                problems.append(Problem(f"glossary.{locale}.toml", term.line,
                                        f"term {term.slug!r} is not in glossary.{SOURCE_LOCALE}.toml"))
    if problems:
        raise ContentError(problems)
    return content
