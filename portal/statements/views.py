"""``/statements/<number>/pdf``: a statement as a PDF to keep, print or send to an insurer."""
from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, request, send_file

from ..audit.web import audit
from ..billing.access import current_viewer, statement_for
from ..extensions import db, limiter
from ..i18n import current_locale
from . import services

bp = Blueprint("statements", __name__)


def _limit() -> str:
    return current_app.config["STATEMENT_PDF_RATE_LIMIT"]


@bp.route("/statements/<number>/pdf")
@limiter.limit(_limit, scope="statement-pdf")
def statement_pdf(number: str):
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None:
        abort(404)
    language = services.print_language(statement, request.args.get("lang"), current_locale())
    printed = services.statement_pdf(statement, language)
    audit("statement.pdf_downloaded", "statement", statement.id, guest=viewer.is_guest_for(statement))
    db.session.commit()
    response = send_file(io.BytesIO(printed.data), mimetype="application/pdf", as_attachment=True,
                         download_name=f"statement-{statement.number}-{printed.locale}.pdf",
                         etag=printed.version, conditional=True, max_age=0)
    # The PDF holds health and billing details: no browser or proxy keeps a copy (the patient saves the
    # download where they choose). The ETag, the content version, still answers a conditional request.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = printed.locale.replace("_", "-")
    return response
