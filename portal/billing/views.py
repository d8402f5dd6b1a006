"""Patients' statements: the list and one itemised statement; billing staff's statement search."""
from __future__ import annotations

import math
import time

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from ..audit.web import audit
from ..auth import quickpay
from ..extensions import db
from ..glossary.web import term_marker
from ..i18n import _l, current_locale
from . import services

bp = Blueprint("billing", __name__)

CODE_SYSTEMS = {
    "cpt": _l("CPT code"),
    "hcpcs": _l("HCPCS code"),
    "revenue": _l("Revenue code"),
    "snomed": _l("SNOMED CT code"),
    "cvx": _l("Vaccine code (CVX)"),
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
    now = time.time()
    guest_grants = quickpay.granted_statements(session, now)
    is_staff = current_user.is_authenticated and current_user.is_staff
    own_accounts = ({a.id for a in current_user.accounts} if current_user.is_authenticated and not is_staff
                    else set())
    found = services.visible_statement(number[:40], account_ids=own_accounts, all_statements=is_staff,
                                       guest_statement_ids=guest_grants.keys())
    if found is None:
        abort(404)
    as_guest = not is_staff and found.account_id not in own_accounts
    audit("statement.viewed", "statement", found.id, guest=as_guest)
    # Committed before the page's data is loaded, so that the commit does not expire it.
    db.session.commit()
    page = services.statement_page(found, current_locale())
    guest_minutes_left = None
    if as_guest and found.id in guest_grants:
        guest_minutes_left = max(1, math.ceil((guest_grants[found.id] - now) / 60))
    return render_template("billing/statement.html", page=page, summary=page.summary, statement=found,
                           guest_minutes_left=guest_minutes_left, terms=term_marker())


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
    results = services.search_statements(query) if query.strip() else []
    return render_template("billing/staff_search.html", query=query, results=results)
