"""The explanation glossary: every term, searchable without JavaScript, each at its own anchor."""
from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from ..i18n import current_locale
from . import services

bp = Blueprint("glossary", __name__)


@bp.before_app_request
def _read_content_version_again() -> None:
    # Once per request, even where a request runs in an application context that outlives it (the tests).
    g.pop("content_token", None)

QUERY_MAX = 100


@bp.route("/glossary")
def index():
    query = " ".join(request.args.get("q", "")[:QUERY_MAX].split())
    terms = services.glossary_terms(current_locale())
    titles = {term.slug: term.title for term in terms}
    if query:
        return render_template("glossary/index.html", query=query, results=services.search_terms(terms, query),
                               groups=[], titles=titles, total=len(terms))
    groups = [(letter, list(items)) for letter, items in
              groupby(terms, key=lambda t: services.index_form(t.title, t.locale)[:1].upper())]
    return render_template("glossary/index.html", query="", results=terms, groups=groups, titles=titles,
                           total=len(terms))


@bp.route("/glossary/<path:name>")
def term(name: str):
    """Link to a term by its slug or any of its names: ``/glossary/copay`` opens copayment."""
    found = services.find_term(name[:QUERY_MAX], current_locale())
    if found is None:
        abort(404)
    return redirect(url_for("glossary.index", _anchor=found.slug))
