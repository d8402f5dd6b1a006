"""Financial assistance: the public policy page, the application (from a statement) and the proof staff open."""
from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from ..audit.web import audit
from ..billing.access import current_viewer, statement_for
from ..billing.models import Statement
from ..billing.services import summaries_for_accounts
from ..extensions import db
from ..i18n import _, _l, current_locale
from ..money import AmountError, Money, parse_amount
from ..questions.views import contact_form, new_question
from ..site import current_organisation
from . import services, uploads
from .forms import ApplicationForm
from .models import AssistanceDocument
from .wording import income_limits, tier_sentence

bp = Blueprint("assistance", __name__)

UPLOAD_REFUSALS = {
    "too_large": _l("%(name)s is larger than 10 MB. Send a smaller copy, or a photo of each page."),
    "empty": _l("%(name)s is empty."),
    "not_allowed": _l("%(name)s is not a PDF, JPEG or PNG file."),
    "mismatch": _l("%(name)s is not the kind of file its name says. Save it again as a PDF, JPEG or PNG."),
}
INCOME_REFUSALS = {
    "not_a_number": _l("Enter the income as a number, such as 24000."),
    "too_many_decimals": _l("Enter the income to the cent, with no more decimals."),
    "not_positive": _l("The income cannot be less than 0."),
}


def _policy_or_none() -> services.Policy | None:
    try:
        return services.policy()
    except (services.screening.GuidelinesError, ValueError):
        current_app.logger.exception("financial assistance: the screening rules could not be loaded")
        return None


@bp.route("/financial-assistance")
def policy_page():
    """The policy, its plain-language summary and how to apply: for anyone, signed in or not."""
    viewer = current_viewer()
    # The bills this visitor could apply from: a patient's own, or those opened through quick pay.
    summaries = [] if viewer.is_staff else summaries_for_accounts(viewer.account_ids)
    if not viewer.is_staff and viewer.guest_grants:
        guest_accounts = set(db.session.scalars(select(Statement.account_id)
                                                .where(Statement.id.in_(list(viewer.guest_grants)))))
        summaries += [s for s in summaries_for_accounts(guest_accounts - viewer.account_ids)
                      if s.statement.id in viewer.guest_grants]
    rules = _policy_or_none()
    return render_template("assistance/policy.html", policy=rules, summaries=summaries,
                           organisation=current_organisation(), limits=income_limits(rules) if rules else None,
                           tier_sentence=tier_sentence)


def _income(form: ApplicationForm, currency: str) -> int | None:
    try:
        return parse_amount(form.annual_income.data or "", currency, current_locale(), allow_zero=True).minor
    except AmountError as error:
        form.annual_income.errors.append(INCOME_REFUSALS.get(error.reason, INCOME_REFUSALS["not_a_number"]))
        return None


def _documents(form: ApplicationForm) -> tuple[uploads.CheckedFile, ...] | None:
    files = [f for f in request.files.getlist(form.documents.name) if f and f.filename]
    if len(files) > uploads.MAX_FILES:
        form.documents.errors.append(_("Send at most %(num)d files.", num=uploads.MAX_FILES))
        return None
    checked = []
    for upload in files:
        # One byte more than allowed is enough to know a file is too large, without reading all of it.
        data = upload.stream.read(uploads.MAX_BYTES + 1)
        try:
            checked.append(uploads.check(upload.filename, upload.mimetype, data))
        except uploads.UploadError as error:
            form.documents.errors.append(str(UPLOAD_REFUSALS[error.code]) % {"name": error.filename})
    return None if form.documents.errors else tuple(checked)


@bp.route("/statements/<number>/financial-assistance", methods=["GET", "POST"])
def apply(number: str):
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None or viewer.is_staff:
        abort(404)
    guest = viewer.is_guest_for(statement)
    rules = _policy_or_none()
    pending = services.pending_for(statement.account_id)
    if pending is not None or rules is None or rules.guidelines.currency != statement.currency:
        # Already applied (the answer is on its way), or no screening here: say so rather than take it twice.
        return render_template("assistance/apply.html", statement=statement, form=None, pending=pending,
                               policy=rules), 409 if request.method == "POST" else 200
    form = contact_form(ApplicationForm, guest=guest)
    if request.method == "POST":
        valid = form.validate_on_submit()
        income = None if form.annual_income.errors else _income(form, statement.currency)
        documents = _documents(form)
        if valid and income is not None and documents is not None:
            text = (form.message.data or "").strip() or _(
                "I am applying for financial assistance: %(size)d people in my household, %(income)s a year.",
                size=form.household, income=Money(income, statement.currency).format(current_locale()))
            question = new_question(form, "financial_assistance", text)
            try:
                application = services.apply(statement, services.NewApplication(
                    form.household, income, question, documents), user=None if guest else current_user)
            except services.AssistanceError as error:
                db.session.rollback()
                if error.code != "already_pending":
                    abort(400)
                return render_template("assistance/apply.html", statement=statement, form=None,
                                       pending=services.pending_for(statement.account_id), policy=rules), 409
            audit("assistance.applied", "statement", statement.id, guest=guest)
            db.session.commit()
            flash(_("Your application was sent. Until it is decided, we will not send your account to collection."),
                  "success")
            return redirect(url_for("questions.thread", public_id=application.question.public_id))
    status = 400 if form.errors or form.annual_income.errors or form.documents.errors else 200
    return render_template("assistance/apply.html", statement=statement, form=form, pending=None,
                           policy=rules), status


@bp.route("/staff/assistance/documents/<public_id>")
def document(public_id: str):
    """A proof of income, for the staff member the application's question is given to, or a supervisor."""
    if not (current_user.is_authenticated and current_user.is_staff):
        abort(404)
    found = db.session.scalar(select(AssistanceDocument).where(AssistanceDocument.public_id == public_id[:40]))
    if found is None:
        abort(404)
    question = found.application.question
    if not (current_user.is_supervisor or question.assigned_staff_id == current_user.id):
        abort(404)
    try:
        # At most 10 MB: read whole, so that no open file outlives the response.
        with open(uploads.path_of(found.stored_name), "rb") as handle:
            data = handle.read()
    except OSError:
        abort(404)
    audit("assistance.document_viewed", "statement", found.application.statement_id)
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype=uploads.MIMETYPES[found.kind], as_attachment=True,
                     download_name=f"assistance-{found.application.public_id}-{found.id}.{found.kind}",
                     max_age=0)
