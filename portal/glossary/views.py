"""The explanation glossary: every term, searchable without JavaScript, each at its own anchor."""
from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, redirect, render_template, request, url_for
from markupsafe import Markup

from ..i18n import current_locale
from . import cache, services

bp = Blueprint("glossary", __name__)


# The content token is read afresh by every request, whatever page it is for.
bp.before_app_request(cache.forget_token)

QUERY_MAX = 100


@bp.route("/glossary")
def index():
    query = " ".join(request.args.get("q", "")[:QUERY_MAX].split())
    locale = current_locale()
    terms = services.glossary_terms(locale)
    titles = {term.slug: term.title for term in terms}
    if query:
        return render_template("glossary/index.html", query=query, results=services.search_terms(terms, query),
                               titles=titles, total=len(terms))

    def listing() -> Markup:
        groups = [(letter, list(items)) for letter, items in
                  groupby(terms, key=lambda t: services.index_form(t.title, t.locale)[:1].upper())]
        return Markup(render_template("glossary/_listing.html", groups=groups, titles=titles))

    # Every term is the same for everyone reading this language until the content changes: kept by the worker.
    return render_template("glossary/index.html", query="", total=len(terms),
                           listing=cache.cached(("listing", locale, request.script_root), listing))


@bp.route("/glossary/<path:name>")
def term(name: str):
    """Link to a term by its slug or any of its names: ``/glossary/copay`` opens copayment."""
    found = services.find_term(name[:QUERY_MAX], current_locale())
    if found is None:
        abort(404)
    return redirect(url_for("glossary.index", _anchor=found.slug))
