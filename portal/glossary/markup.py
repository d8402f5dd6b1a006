"""Mark glossary terms where they first appear on a page, so that a patient can open their meaning.

Each marked term is a button that opens its short definition in a popover, declared in HTML
(``popovertarget``): it works by touch, mouse and keyboard (Enter or Space opens, Escape closes)
without any script, browsers expose the button's expanded state to screen readers, and a button and
its popover are phrasing content, so they are valid inside headings, labels and sentences alike.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from markupsafe import Markup, escape

from .models import GlossaryTerm


# A word, with inner hyphens and apostrophes: "out-of-pocket", "hospital's".
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
MAX_REMEMBERED_TEXTS = 5_000


def _spaced(phrase: str) -> bool:
    # Chinese and Japanese write words without spaces; such phrases are found by plain search.
    return not any(unicodedata.east_asian_width(c) == "W" for c in phrase)


class TermIndex:
    """The phrases of a glossary, ready to be looked for: built once per language and content version (it
    only reads the terms), shared by every page's marker."""

    def __init__(self, terms: Iterable[GlossaryTerm]) -> None:
        self.terms = list(terms)  # in the order given: the glossary's alphabetical order
        self.by_phrase: dict[str, GlossaryTerm] = {}  # "out-of-pocket maximum" -> term
        unspaced: dict[str, GlossaryTerm] = {}
        for term in self.terms:
            for phrase in (*term.names, *term.matches):
                key = " ".join(phrase.casefold().split())
                (self.by_phrase if _spaced(key) else unspaced).setdefault(key, term)
        # Searched in the text itself, so that positions stay right even where case folding changes length.
        self.unspaced = [(re.compile(re.escape(key), re.IGNORECASE), term)
                         for key, term in sorted(unspaced.items(), key=lambda item: -len(item[0]))]
        self.first_words = {key.split(" ")[0] for key in self.by_phrase}
        self.longest = max((key.count(" ") + 1 for key in self.by_phrase), default=0)
        # Where the terms are in each text seen by any page: labels and headings recur on every page.
        self.found: dict[str, list[tuple[int, int, GlossaryTerm]]] = {}

    def remember(self, text: str, found: list[tuple[int, int, GlossaryTerm]]) -> None:
        # Explanations carry a patient's amounts, so texts never stop coming: start afresh when full.
        if len(self.found) >= MAX_REMEMBERED_TEXTS:
            self.found = {}
        self.found[text] = found


class TermMarker:
    """Callable on a page: ``marker(text)`` escapes ``text`` and marks each term's first appearance.

    One marker per page render; it remembers which terms it has marked, so that each term is marked
    once, where the page first uses it (pages render in document order). Phrases are looked up word by
    word in a dictionary rather than with one large regular expression, which is many times faster on
    a long statement.
    """

    def __init__(self, terms: Iterable[GlossaryTerm] | TermIndex,
                 render: Callable[[GlossaryTerm, str, str], str]) -> None:
        index = terms if isinstance(terms, TermIndex) else TermIndex(terms)
        self._index = index
        self._render = render
        self._by_phrase, self._unspaced = index.by_phrase, index.unspaced
        self._first_words, self._longest = index.first_words, index.longest
        self._done: set[str] = set()
        self._count = 0
        # Texts already seen, with the terms they contain: a repeated label costs a set lookup.
        self._seen: dict[str, frozenset[str]] = {}

    @property
    def marked(self) -> set[str]:
        """Slugs of the terms marked so far."""
        return set(self._done)

    def _matches(self, text: str) -> list[tuple[int, int, GlossaryTerm]]:
        """Every (start, end, term) in ``text``, longest phrase first, not overlapping."""
        found = []
        words = list(_WORD.finditer(text))
        i = 0
        while i < len(words):
            first = words[i].group().casefold()
            hit = None
            if first in self._first_words:
                for n in range(min(self._longest, len(words) - i), 0, -1):
                    span = words[i:i + n]
                    # Words of a phrase are separated by spaces only, not by punctuation.
                    if any(text[a.end():b.start()].strip() for a, b in zip(span, span[1:])):
                        continue
                    term = self._by_phrase.get(" ".join(w.group().casefold() for w in span))
                    if term is not None:
                        hit = (span[0].start(), span[-1].end(), term)
                        i += n
                        break
            if hit:
                found.append(hit)
            else:
                i += 1
        for pattern, term in self._unspaced:
            hit = pattern.search(text)
            if hit and not any(s < hit.end() and hit.start() < e for s, e, _t in found):
                found.append((hit.start(), hit.end(), term))
        found.sort(key=lambda hit: hit[0])
        return found

    def __call__(self, text: object) -> Markup:
        # A translated message is already Markup (its placeholders escaped): match on its plain text.
        text = text.unescape() if isinstance(text, Markup) else str(text)
        known = self._seen.get(text)
        if known is not None and known <= self._done:
            return escape(text)
        matches = self._index.found.get(text)
        if matches is None:
            matches = self._matches(text)
            self._index.remember(text, matches)
        self._seen[text] = frozenset(term.slug for _s, _e, term in matches)
        out: list[str] = []
        position = 0
        for start, end, term in matches:
            if term.slug in self._done:
                continue
            self._done.add(term.slug)
            self._count += 1
            out.append(escape(text[position:start]))
            out.append(self._render(term, text[start:end], f"term-{self._count}"))
            position = end
        out.append(escape(text[position:]))
        return Markup("".join(out))
