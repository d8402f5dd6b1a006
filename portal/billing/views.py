"""Patients' statements: the list and one itemised statement; billing staff's statement search."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..assistance.services import pending_for as pending_assistance
from ..audit.web import audit
from ..extensions import db
from ..glossary.web import term_marker
from ..i18n import _l, current_locale, language_choices
from ..payments.stripe_gateway import enabled as gateway_enabled
from ..plans.services import hint_for as plan_hint_for
from ..statements.itemised import requests_for as itemised_requests
from . import rows, services
from .access import assigned_statement_ids, current_viewer, statement_for

bp = Blueprint("billing", __name__)

CODE_SYSTEMS = {
    "cpt": _l("CPT code"),
    "hcpcs": _l("HCPCS code"),
    "revenue": _l("Revenue code"),
    "snomed": _l("SNOMED CT code"),
    "cvx": _l("Vaccine code (CVX)"),
    "ndc": _l("Drug code (NDC)"),
    "rxnorm": _l("Drug code (RxNorm)"),
    # A billing system's own code, in a system the portal does not know (imported as it was sent).
    "local": _l("Hospital code"),
}

STATUS_LABELS = {
    services.STATUS_DUE: _l("Due"),
    services.STATUS_OVERDUE: _l("Overdue"),
    services.STATUS_PAID: _l("Paid"),
}


@bp.record_once
def _register_labels(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    # Globals, not a context processor, so that imported macros see them too.
    state.app.jinja_env.globals.update(code_systems=CODE_SYSTEMS, status_labels=STATUS_LABELS)


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("billing.staff_search" if current_user.is_staff else "billing.statements"))
    return render_template("billing/home.html")


@bp.route("/statements")
@login_required
def statements():
    if current_user.is_staff:
        return redirect(url_for("billing.staff_search"))
    account_ids = [account.id for account in current_user.accounts]
    summaries = services.summaries_for_accounts(account_ids)
    return render_template("billing/statements.html", summaries=summaries)


@bp.route("/statements/<number>")
def statement(number: str):
    viewer = current_viewer()
    found = statement_for(viewer, number)
    if found is None:
        abort(404)
    page = services.statement_page(found, current_locale())
    html = render_template("billing/statement.html", page=page, summary=page.summary, statement=found,
                           guest_minutes_left=viewer.guest_minutes_left(found), terms=term_marker(),
                           payments_enabled=gateway_enabled(), pdf_languages=language_choices(),
                           amount_rows=rows.AmountRows(found.currency),
                           itemised_requests=itemised_requests(found.id),
                           assistance_pending=pending_assistance(found.account_id),
                           plan_hint=None if viewer.is_guest_for(found) else
                           plan_hint_for(found, page.summary, staff=viewer.is_staff))
    # Recorded once the page is ready and before it is sent: a page that failed is not counted as seen, and a
    # page whose record could not be kept is not shown. (Before rendering, the commit would expire its data.)
    audit("statement.viewed", "statement", found.id, guest=viewer.is_guest_for(found))
    db.session.commit()
    return html


@bp.route("/staff/statements")
@login_required
def staff_search():
    if not current_user.is_staff:
        abort(404)
    query = request.args.get("q", "")[:100]
    if query.strip():
        # Committed before the search: a commit would expire every row the page is about to show.
        audit("statements.searched")
        db.session.commit()
    # Billing staff find the statements of the questions given to them; supervisors find any.
    within = None if current_user.is_supervisor else assigned_statement_ids(current_user.id)
    results = services.search_statements(query, within=within) if query.strip() else []
    return render_template("billing/staff_search.html", query=query, results=results)
