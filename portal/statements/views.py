"""``/statements/<number>/pdf``: a statement as a PDF to keep, print or send to an insurer; and
``/statements/<number>/itemised``: the itemised bill a patient asks for, printed at once and recorded."""
from __future__ import annotations

import io

from flask import Blueprint, Response, abort, current_app, request, send_file
from flask_login import current_user

from ..audit.web import audit
from ..billing.access import Viewer, current_viewer, statement_for
from ..billing.models import Statement
from ..extensions import db, limiter
from ..i18n import _l, current_locale
from . import itemised, services

bp = Blueprint("statements", __name__)

# How billing staff see who asked for an itemised bill (a statement page lists each request).
REQUESTERS = {
    "patient": _l("asked for by the patient"),
    "guest": _l("asked for without a login, with the statement number (quick pay)"),
    "staff": _l("printed by billing staff"),
}


@bp.record_once
def _register_labels(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    state.app.jinja_env.globals.update(itemised_requesters=REQUESTERS)


def _limit() -> str:
    return current_app.config["STATEMENT_PDF_RATE_LIMIT"]


# Downloads and itemised bills count against one limit per visitor: each may print a PDF (a core for a second).
printing_limit = limiter.shared_limit(_limit, scope="statement-pdf")


def _to_print(number: str, requested: str | None) -> tuple[Viewer, Statement, services.Language]:
    """Who asks, the statement (404 unless they may see it) and the language to print it in."""
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None:
        abort(404)
    return viewer, statement, services.print_language(statement, requested, current_locale())


def _pdf_response(printed: services.PrintedStatement, name: str, **conditional) -> Response:
    response = send_file(io.BytesIO(printed.data), mimetype="application/pdf", as_attachment=True,
                         download_name=f"{name}-{printed.locale}.pdf", max_age=0, **conditional)
    # The PDF holds health and billing details: no browser or proxy keeps a copy (the patient saves the
    # download where they choose).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = printed.locale.replace("_", "-")
    return response


@bp.route("/statements/<number>/pdf")
@printing_limit
def statement_pdf(number: str):
    viewer, statement, language = _to_print(number, request.args.get("lang"))
    printed = services.statement_pdf(statement, language)
    audit("statement.pdf_downloaded", "statement", statement.id, guest=viewer.is_guest_for(statement))
    db.session.commit()
    # The ETag, the content version, answers a conditional request even though nothing keeps a copy.
    return _pdf_response(printed, f"statement-{statement.number}", etag=printed.version, conditional=True)


@bp.route("/statements/<number>/itemised", methods=["POST"])
@printing_limit
def itemised_bill(number: str):
    """"Request an itemised bill": the PDF at once, and the request kept (a POST: it is recorded)."""
    viewer, statement, language = _to_print(number, request.form.get("lang"))
    # Printed before anything is recorded: a request whose bill could not be printed is not on record.
    printed = services.statement_pdf(statement, language, itemised=True)
    itemised.record_request(statement, viewer, current_user.id if current_user.is_authenticated else None,
                            printed.locale)
    audit("statement.itemised_requested", "statement", statement.id, guest=viewer.is_guest_for(statement))
    db.session.commit()
    return _pdf_response(printed, f"itemised-bill-{statement.number}")
