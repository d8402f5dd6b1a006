"""The patient's side of a disputed charge: "Dispute this charge" on a line of their statement."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.web import audit
from ..billing.access import current_viewer, statement_for
from ..extensions import db
from ..glossary.services import service_names
from ..i18n import _, current_locale
from ..money import Money
from ..questions.views import contact_form, line_on, new_question
from . import services
from .forms import DisputeForm
from .wording import OUTCOME_LABELS, REASON_CHOICES

bp = Blueprint("disputes", __name__)


@bp.record_once
def _register_labels(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    state.app.jinja_env.globals.update(dispute_reasons=REASON_CHOICES, dispute_outcome_labels=OUTCOME_LABELS)


@bp.route("/statements/<number>/lines/<line_id>/dispute", methods=["GET", "POST"])
def dispute(number: str, line_id: str):
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    # Staff resolve disputes; they do not raise them for a patient.
    if statement is None or viewer.is_staff:
        abort(404)
    line = line_on(statement, line_id)
    guest = viewer.is_guest_for(statement)
    credited = services.credited_on_line(line.id)
    page = {"statement": statement, "line": line, "line_name": service_names([line], current_locale())[line.id].name,
            "credited": Money(credited, statement.currency) if credited else None}
    existing = services.open_dispute_on(line.id)
    nothing_owed = existing is None and line.patient_owes_minor - credited <= 0
    if existing is not None or nothing_owed:
        # Already disputed (perhaps from another tab): where that dispute is, rather than a second one. Nothing
        # owed: no money to dispute; a question still reaches the billing office.
        return render_template("disputes/dispute.html", form=None, existing=existing, nothing_owed=nothing_owed,
                               **page), 409 if request.method == "POST" else 200
    form = contact_form(DisputeForm, guest=guest)
    if form.validate_on_submit():
        try:
            opened = services.open_dispute(statement, line, form.reason.data, new_question(form, "dispute"),
                                           user=None if guest else current_user)
        except services.DisputeError as error:
            db.session.rollback()
            if error.code != "already_open":
                abort(400)
            # Disputed by another request since this page was loaded.
            return render_template("disputes/dispute.html", form=None, existing=services.open_dispute_on(line.id),
                                   nothing_owed=False, **page), 409
        audit("line.disputed", "statement", statement.id, guest=guest)
        db.session.commit()
        flash(_("Your dispute was sent. Until it is decided, this charge is marked as disputed on your statement."),
              "success")
        return redirect(url_for("questions.thread", public_id=opened.question.public_id))
    return render_template("disputes/dispute.html", form=form, existing=None, nothing_owed=False,
                           **page), 400 if form.errors else 200
