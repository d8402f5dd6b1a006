"""The load benchmark's ceiling: the portal with the statement page's own work taken from memory.

Served by gunicorn as ``ceiling_app:create_app()`` from bench/, with the portal's own settings. Every
``GET /statements/<number>`` still does what the portal does for any page that shows a bill: the session and
its sign-in check, the viewer's accounts, the statement found and the viewer's right to it checked, the audit
record and its commit, Flask and gunicorn. What it skips is the page itself: the statement's visits, lines,
payments and explanations (``services.statement_page``) and its HTML (``render_template``) are worked out once
per worker and language, for the first statement asked for, and that same page is sent for every statement
after it (with that first session's sign-out token in it, which no benchmark request uses).

No cache of rendered pages can make the statement page faster than this, so its throughput is the most that
caching could bring, and its ratio to the baseline is the best ratio the portal can reach while it checks who
is signed in and records who viewed what. Only ``bench/load.py`` runs it; the portal never does.
"""
from __future__ import annotations

from flask import Flask

from portal import create_app as create_portal
from portal.billing import services, views
from portal.i18n import current_locale


def create_app() -> Flask:
    app = create_portal()
    pages: dict[str, object] = {}
    rendered: dict[str, str] = {}
    build_page, render = services.statement_page, views.render_template

    def statement_page(statement, locale):  # noqa: ANN001, ANN202 (the portal's own signature)
        key = str(locale)
        if key not in pages:
            pages[key] = build_page(statement, locale)
        return pages[key]

    def render_template(template: str, **context) -> str:  # noqa: ANN003
        if template != "billing/statement.html":
            return render(template, **context)
        key = str(current_locale())
        if key not in rendered:
            rendered[key] = render(template, **context)
        return rendered[key]

    # The view looks both up by these names when it runs, so replacing them here is enough.
    services.statement_page = statement_page
    views.render_template = render_template
    return app
