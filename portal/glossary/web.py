"""Glossary terms on a rendered page: the marker that explains terms in place."""
from __future__ import annotations

from flask import current_app, has_request_context, request
from markupsafe import Markup

from ..i18n import current_locale
from .cache import cached
from .markup import TermMarker
from .models import GlossaryTerm
from .services import term_index

# Stands for a marked term's element id in a kept rendering (ids count up through each page).
_ID_SLOT = "\x00term-id\x00"


def term_marker() -> TermMarker:
    """A marker for one page, in the active language, rendering terms with ``glossary/_term.html``."""
    locale = current_locale()
    macro = current_app.jinja_env.get_template("glossary/_term.html").module.marked_term  # type: ignore[attr-defined]
    # A term's button and popover are the same on every page but for the id: rendered once per worker, language
    # and content token (the wording and its glossary link), then copied with the page's id.
    kept: dict[tuple[str, str, str], str] = cached(("marked-terms", locale), dict)
    root = request.script_root if has_request_context() else ""

    def render(term: GlossaryTerm, text: str, element_id: str) -> str:
        key = (root, term.slug, text)
        html = kept.get(key)
        if html is None:
            html = kept[key] = str(macro(term, text, _ID_SLOT))
        return Markup(html.replace(_ID_SLOT, element_id))

    return TermMarker(term_index(locale), render)
