"""The billing office's side of questions: the inbox, a conversation beside the bill, replies, notes,
status and reassignment. Staff see the questions given to them; supervisors see them all."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..assistance import services as assistance
from ..assistance.forms import DecisionForm
from ..assistance.wording import screening_sentences
from ..audit.web import audit
from ..billing.services import statement_page
from ..disputes import services as disputes
from ..disputes.forms import ResolveDisputeForm
from ..extensions import db
from ..glossary.web import term_marker
from ..i18n import _, _l, current_locale, ngettext
from ..money import AmountError, Money, parse_amount
from ..outbox import services as outbox
from ..outbox.models import OutgoingMail
from ..plans.models import PaymentPlan
from ..site import current_organisation
from ..urls import MAX_ID
from . import services
from .dashboard import dashboard as dashboard_figures
from .forms import ReassignForm, RosterForm, StaffReplyForm, StatusForm, options, split_list
from .models import RESOLVED, STATUSES, Question, StaffProfile
from .notify import queue_reply_notice
from .reasons import TOPIC_LABELS, reason_sentence
from .views import STAFF_STATUS_LABELS

bp = Blueprint("staff", __name__)


MAIL_KINDS = {
    "question_reply": _l("Reply notice"),
    "password_reset": _l("Password reset"),
    "receipt": _l("Payment receipt"),
}


def _require_staff() -> None:
    if not (current_user.is_authenticated and current_user.is_staff):
        abort(404)


def _question(public_id: str) -> Question:
    _require_staff()
    question = db.session.scalar(select(Question).where(Question.public_id == public_id[:40]))
    if question is None or not (current_user.is_supervisor or question.assigned_staff_id == current_user.id):
        abort(404)
    return question


@bp.route("/staff")
@login_required
def inbox():
    _require_staff()
    everyone = current_user.is_supervisor and request.args.get("scope") == "all"
    query = select(Question).where(Question.status != RESOLVED)
    if not everyone:
        query = query.where(Question.assigned_staff_id == current_user.id)
    # The statement of each row in one more query, not one per row.
    questions = db.session.scalars(query.options(selectinload(Question.statement))
                                   .order_by(Question.due_at, Question.id)).all()
    names = {p.user_id: p.display_name for p in db.session.scalars(select(StaffProfile))}
    audit("questions.inbox_viewed")
    db.session.commit()
    return render_template("staff/inbox.html", questions=questions, names=names, everyone=everyone,
                           now=services.utcnow())


def _forms(question: Question) -> dict:
    reassign = ReassignForm(prefix="reassign")
    reassign.staff.choices = options((p.user_id, p.display_name) for p in services.staff_profiles()
                                     if p.active and p.user_id != question.assigned_staff_id)
    status = StatusForm(prefix="status", status=question.status)
    status.status.choices = options((s, STAFF_STATUS_LABELS[s]) for s in STATUSES)
    return {"reply_form": StaffReplyForm(prefix="reply"), "status_form": status, "reassign_form": reassign,
            "resolve_form": ResolveDisputeForm(prefix="resolve") if question.topic == "dispute" else None,
            "decision_form": (DecisionForm(prefix="decide") if question.topic == "financial_assistance" else None)}


def _render(question: Question, forms: dict, code: int = 200):
    page = statement_page(question.statement, current_locale())
    names = {p.user_id: p.display_name for p in db.session.scalars(select(StaffProfile))}
    reasons = [(a, reason_sentence(a, names.get(a.staff_user_id, ""), names.get(a.assigned_by_user_id)))
               for a in question.assignments]
    dispute = disputes.dispute_for(question)
    correctable = (Money(disputes.correctable(dispute.line_item), question.statement.currency)
                   if dispute is not None and dispute.is_open else None)
    application = assistance.application_for(question)
    decision_form = forms.get("decision_form")
    if application is not None and application.pending and decision_form is not None and request.method == "GET":
        suggested = assistance.suggested_discount(application)
        decision_form.amount.data = Money(suggested, application.currency).format(current_locale()) if suggested else ""
    discountable = (Money(assistance.discountable(question.statement), question.statement.currency)
                    if application is not None and application.pending else None)
    plan = db.session.scalar(select(PaymentPlan).where(PaymentPlan.question_id == question.id))
    return render_template("staff/question.html", question=question, page=page, summary=page.summary, plan=plan,
                           statement=question.statement, names=names, reasons=reasons, terms=term_marker(),
                           dispute=dispute, correctable=correctable, application=application,
                           discountable=discountable,
                           screening=screening_sentences(application) if application else None, **forms), code


@bp.route("/staff/questions/<public_id>", methods=["GET", "POST"])
@login_required
def question(public_id: str):
    question = _question(public_id)
    forms = _forms(question)
    reply = forms["reply_form"]
    if request.method == "POST":
        if not reply.validate_on_submit():
            return _render(question, forms, 400)
        internal = reply.kind.data == "note"
        services.staff_reply(question, current_user, reply.message.data, internal=internal)
        notice = None if internal else queue_reply_notice(question)
        audit("question.answered", "statement", question.statement_id)
        db.session.commit()
        if internal:
            flash(_("Your note was saved."), "success")
        elif notice is not None:
            flash(_("Your reply was sent. The patient gets an email saying that an answer is waiting."), "success")
        elif question.contact_method == "phone":
            flash(_("Your reply was sent. They asked to be called at %(phone)s, so no email tells them.",
                    phone=question.contact_phone or ""), "success")
        else:
            flash(_("Your reply was sent."), "success")
        return redirect(url_for("staff.question", public_id=public_id))
    # Every look at a patient's bill by staff is in the audit log.
    audit("question.viewed", "statement", question.statement_id)
    db.session.commit()
    return _render(question, forms)


@bp.route("/staff/questions/<public_id>/status", methods=["POST"])
@login_required
def status(public_id: str):
    question = _question(public_id)
    forms = _forms(question)
    form = forms["status_form"]
    if not form.validate_on_submit():
        return _render(question, forms, 400)
    services.set_status(question, form.status.data)
    audit("question.status_changed", "statement", question.statement_id)
    db.session.commit()
    flash(_("Status changed to: %(status)s.", status=STAFF_STATUS_LABELS[form.status.data]), "success")
    return redirect(url_for("staff.question", public_id=public_id))


@bp.route("/staff/questions/<public_id>/reassign", methods=["POST"])
@login_required
def reassign(public_id: str):
    question = _question(public_id)
    forms = _forms(question)
    form = forms["reassign_form"]
    if not form.validate_on_submit():
        return _render(question, forms, 400)
    to = db.session.get(StaffProfile, form.staff.data)
    services.reassign(question, to, by=current_user, note=form.reason.data)
    audit("question.reassigned", "statement", question.statement_id)
    db.session.commit()
    flash(_("The question now goes to %(name)s.", name=to.display_name), "success")
    if current_user.is_supervisor:
        return redirect(url_for("staff.question", public_id=public_id))
    return redirect(url_for("staff.inbox"))


DISPUTE_REFUSALS = {
    "amount_needed": _l("Enter the amount to take off the charge."),
    "amount_too_large": _l("That is more than the patient owes for this charge."),
    "amount_only_when_corrected": _l("Leave the amount empty unless the charge is corrected."),
    "line_gone": _l("The billing system has taken this charge off the bill since: there is nothing left to correct."),
}
ASSISTANCE_REFUSALS = {
    "amount_too_large": _l("That is more than the patient's share of this bill."),
    "amount_only_when_approved": _l("Leave the discount empty when the application is not approved."),
}


def _decide(question: Question, form_name: str, *, still_open: bool, decide, refusals: dict, already: str,  # noqa: ANN001
            action: str, done: str):
    """What deciding a dispute and deciding an assistance application share: the form with an optional amount
    (minor units when filled in), refusals shown on the form, decided once, the patient told, audited.

    ``decide(form, amount)`` records the decision; it raises an error with a ``code``: "already_*" when another
    request decided first, or a key of ``refusals``."""
    public_id = question.public_id
    forms = _forms(question)
    form = forms[form_name]
    if not still_open:
        flash(already, "error")
        return redirect(url_for("staff.question", public_id=public_id))
    if not form.validate_on_submit():
        return _render(question, forms, 400)
    amount = None
    if (form.amount.data or "").strip():
        try:
            amount = parse_amount(form.amount.data, question.statement.currency, current_locale()).minor
        except AmountError as error:
            form.amount.errors.append(AMOUNT_REFUSALS.get(error.reason, AMOUNT_REFUSALS["not_a_number"]))
            return _render(question, forms, 400)
    try:
        decide(form, amount)
    except (disputes.DisputeError, assistance.AssistanceError) as error:
        db.session.rollback()
        if error.code.startswith("already_"):
            flash(already, "error")
            return redirect(url_for("staff.question", public_id=public_id))
        if error.code not in refusals:
            abort(400)
        form.amount.errors.append(refusals[error.code])
        return _render(question, forms, 400)
    notice = queue_reply_notice(question)
    audit(action, "statement", question.statement_id)
    db.session.commit()
    flash(done + (" " + _("They get an email saying that an answer is waiting.") if notice is not None else ""),
          "success")
    return redirect(url_for("staff.question", public_id=public_id))


@bp.route("/staff/questions/<public_id>/dispute", methods=["POST"])
@login_required
def resolve_dispute(public_id: str):
    """Decide a disputed charge: corrected (with an adjustment), explained, or sent to insurance."""
    question = _question(public_id)
    dispute = disputes.dispute_for(question)
    if dispute is None:
        abort(404)
    return _decide(question, "resolve_form", still_open=dispute.is_open, refusals=DISPUTE_REFUSALS,
                   decide=lambda form, amount: disputes.resolve(dispute, outcome=form.outcome.data,
                                                                note=form.message.data, amount=amount, by=current_user),
                   already=_("This dispute was already decided."), action="dispute.resolved",
                   done=_("The dispute is decided and the patient's statement shows it."))


@bp.route("/staff/questions/<public_id>/assistance", methods=["POST"])
@login_required
def decide_assistance(public_id: str):
    """Decide a financial assistance application: approved (with a discount off the statement) or not."""
    question = _question(public_id)
    application = assistance.application_for(question)
    if application is None:
        abort(404)
    return _decide(question, "decision_form", still_open=application.pending, refusals=ASSISTANCE_REFUSALS,
                   decide=lambda form, amount: assistance.decide(application, approved=form.decision.data == "approved",
                                                                 amount=amount, note=form.message.data,
                                                                 by=current_user),
                   already=_("This application was already decided."), action="assistance.decided",
                   done=_("The application is decided and the patient's statement shows it."))


AMOUNT_REFUSALS = {
    "not_a_number": _l("Enter an amount such as 25.00."),
    "too_many_decimals": _l("Enter the amount to the cent, with no more decimals."),
    "not_positive": _l("Enter an amount more than zero."),
}


def _require_supervisor() -> None:
    if not (current_user.is_authenticated and current_user.is_supervisor):
        abort(404)


@bp.route("/staff/dashboard")
@login_required
def dashboard():
    _require_supervisor()
    audit("questions.dashboard_viewed")
    db.session.commit()
    return render_template("staff/dashboard.html", board=dashboard_figures(), undelivered=outbox.failed_mail(),
                           mail_counts=outbox.counts(), mail_kinds=MAIL_KINDS,
                           can_send_again=outbox.can_send_again)


@bp.route("/staff/mail/<int:mail_id>/send-again", methods=["POST"])
@login_required
def send_mail_again(mail_id: int):
    """A supervisor has an undelivered email tried again (after fixing the address or the mail server)."""
    _require_supervisor()
    mail = db.session.get(OutgoingMail, mail_id) if mail_id <= MAX_ID else None
    if mail is None or not outbox.can_send_again(mail):
        abort(404)
    outbox.send_again(mail)
    audit("mail.send_again", "mail", mail.id)
    db.session.commit()
    flash(_("The email to %(address)s will be sent again.", address=mail.recipient), "success")
    return redirect(url_for("staff.dashboard") + "#undelivered")


@bp.route("/staff/roster/<int:user_id>", methods=["GET", "POST"])
@login_required
def roster(user_id: int):
    _require_supervisor()
    profile = db.session.get(StaffProfile, user_id) if user_id <= MAX_ID else None
    if profile is None:
        abort(404)
    form = RosterForm(obj=None if request.method == "POST" else profile)
    if request.method == "GET":
        form.languages.data = ", ".join(profile.languages or [])
        form.departments.data = ", ".join(profile.departments or [])
        form.topics.data = list(profile.topics or [])
    if form.validate_on_submit():
        profile.languages = split_list(form.languages.data)
        profile.topics = [t for t in form.topics.data if t in TOPIC_LABELS]
        profile.departments = split_list(form.departments.data)
        profile.away_from, profile.away_until = form.away_from.data, form.away_until.data
        profile.active = form.active.data
        db.session.flush()
        moved = []
        # Someone away today or no longer answering: their open questions go to others, each with a reason.
        organisation = current_organisation()
        today = services.organisation_day(organisation) if organisation else services.utcnow().date()
        if not services.snapshot(profile).available_on(today):
            moved = services.reroute_away_from(profile.user_id)
        audit("staff.roster_changed", "user", profile.user_id)
        db.session.commit()
        flash(ngettext("Saved. %(num)d open question went to colleagues.",
                       "Saved. %(num)d open questions went to colleagues.", len(moved)) if moved else _("Saved."),
              "success")
        return redirect(url_for("staff.dashboard"))
    return render_template("staff/roster.html", form=form, profile=profile), 400 if form.errors else 200
