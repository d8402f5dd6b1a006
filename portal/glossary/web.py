"""Glossary terms on a rendered page: the marker that explains terms in place."""
from __future__ import annotations

from flask import current_app
from markupsafe import Markup

from ..i18n import current_locale
from .markup import TermMarker
from .models import GlossaryTerm
from .services import term_index


def term_marker() -> TermMarker:
    """A marker for one page, in the active language, rendering terms with ``glossary/_term.html``."""
    macro = current_app.jinja_env.get_template("glossary/_term.html").module.marked_term  # type: ignore[attr-defined]

    def render(term: GlossaryTerm, text: str, element_id: str) -> str:
        return Markup(macro(term, text, element_id))

    return TermMarker(term_index(current_locale()), render)
