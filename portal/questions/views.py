"""Patients' questions: asking about a statement or a line, their list, and each conversation."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.web import audit
from ..billing.access import Viewer, current_viewer, statement_for
from ..billing.models import LineItem, Visit
from ..assistance.services import application_for
from ..assistance.wording import screening_sentences
from ..disputes.services import dispute_for
from ..extensions import db
from ..glossary.services import service_names
from ..i18n import _, _l, current_locale, language_in_itself
from ..urls import MAX_ID
from . import services
from .forms import AskForm, ReplyForm, options
from .models import RESOLVED, WAITING_BILLING, WAITING_PATIENT, Question, StaffProfile
from .reasons import TOPIC_LABELS, language_name, patient_reason

bp = Blueprint("questions", __name__)

STATUS_LABELS = {
    WAITING_BILLING: _l("Waiting for the billing office"),
    WAITING_PATIENT: _l("Waiting for you"),
    RESOLVED: _l("Resolved"),
}
# The same statuses as the billing office reads them: "waiting for you" would mean them.
STAFF_STATUS_LABELS = {**STATUS_LABELS, WAITING_PATIENT: _l("Waiting for the patient")}


@bp.record_once
def _register_labels(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    state.app.jinja_env.globals.update(question_status_labels=STATUS_LABELS, staff_status_labels=STAFF_STATUS_LABELS,
                                       topic_choices=TOPIC_LABELS)
    state.app.jinja_env.filters["language_in_itself"] = language_in_itself


def question_languages() -> list[tuple[str, str]]:
    """The languages a patient may be answered in, each named in itself ("Español")."""
    return [(code, language_in_itself(code)) for code in current_app.config["QUESTION_LANGUAGES"]]


def question_for(viewer: Viewer, public_id: str) -> Question | None:
    """The question if ``viewer`` may read it: the patient or guest whose statement it is; the staff member
    it is assigned to; any supervisor. Anyone else: None (404)."""
    question = db.session.scalar(select(Question).where(Question.public_id == public_id[:40]))
    if question is None:
        return None
    if viewer.is_staff:
        if current_user.is_supervisor or question.assigned_staff_id == current_user.id:
            return question
        return None
    return question if viewer.may_see(question.statement) else None


def contact_form(form_class: type[AskForm], *, guest: bool) -> AskForm:
    """A form with the question's answer language and contact fields (``AskForm`` or one built on it), the
    language and, for a login, its email filled in on first showing."""
    form = form_class(email_required=guest)
    languages = question_languages()
    form.language.choices = options(languages)
    if request.method == "GET":
        form.language.data = current_locale() if current_locale() in dict(languages) else "en"
        if not guest:
            form.email.data = current_user.email
    return form


def new_question(form: AskForm, topic: str, body: str | None = None) -> services.NewQuestion:
    """What a patient sent on ``form``, as a question of ``topic`` (``body`` instead of their message)."""
    return services.NewQuestion(topic=topic, body=body or form.message.data, language=form.language.data,
                                contact_method=form.contact_method.data,
                                contact_email=(form.email.data or "").strip() or None,
                                contact_phone=(form.phone.data or "").strip() or None)


def line_on(statement, line_id: str | None) -> LineItem | None:
    """The line ``line_id`` of ``statement``; 404 for anything else in the address."""
    if not line_id:
        return None
    # ASCII digits only ("²".isdigit() is true), and a number that fits our integer columns: anything else in
    # the address is simply not found.
    if not (line_id.isascii() and line_id.isdigit() and len(line_id) <= 10 and int(line_id) <= MAX_ID):
        abort(404)
    line = db.session.scalar(select(LineItem).join(Visit).where(LineItem.id == int(line_id),
                                                                 Visit.statement_id == statement.id))
    if line is None:
        abort(404)
    return line


@bp.route("/statements/<number>/ask", methods=["GET", "POST"])
def ask(number: str):
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None or viewer.is_staff:
        abort(404)
    line = line_on(statement, request.values.get("line"))
    guest = viewer.is_guest_for(statement)
    form = contact_form(AskForm, guest=guest)
    if request.method == "GET":
        form.topic.data = "charges" if line is not None else None
    if form.validate_on_submit():
        new = new_question(form, form.topic.data)
        try:
            question = services.ask(statement, line, new, user=None if guest else current_user)
        except services.QuestionError:
            abort(400)
        audit("question.asked", "statement", statement.id, guest=guest)
        db.session.commit()
        flash(_("Your question was sent."), "success")
        return redirect(url_for("questions.thread", public_id=question.public_id))
    line_name = service_names([line], current_locale())[line.id].name if line is not None else None
    return render_template("questions/ask.html", form=form, statement=statement, line=line,
                           line_name=line_name), 400 if form.errors else 200


@bp.route("/questions")
@login_required
def index():
    if current_user.is_staff:
        return redirect(url_for("staff.inbox"))
    questions = services.questions_for_accounts([account.id for account in current_user.accounts])
    profiles = _profiles(questions)
    return render_template("questions/index.html", questions=questions, profiles=profiles)


def _profiles(questions) -> dict[int, StaffProfile]:
    ids = {q.assigned_staff_id for q in questions if q.assigned_staff_id}
    if not ids:
        return {}
    return {p.user_id: p for p in db.session.scalars(select(StaffProfile).where(StaffProfile.user_id.in_(ids)))}


@bp.route("/questions/<public_id>", methods=["GET", "POST"])
def thread(public_id: str):
    viewer = current_viewer()
    question = question_for(viewer, public_id)
    if question is None:
        if not current_user.is_authenticated and request.method == "GET":
            # The link in a "you have a reply" email: sign in (or open the bill as a guest) and come back.
            # Every address gets this answer, so it tells nobody which questions exist.
            return redirect(url_for("auth.login", next=url_for("questions.thread", public_id=public_id[:40])))
        abort(404)
    if viewer.is_staff:
        return redirect(url_for("staff.question", public_id=public_id))
    guest = viewer.is_guest_for(question.statement)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            services.patient_reply(question, form.message.data, user=None if guest else current_user)
        except services.QuestionError:
            abort(400)
        audit("question.replied", "statement", question.statement_id, guest=guest)
        db.session.commit()
        flash(_("Your reply was sent."), "success")
        return redirect(url_for("questions.thread", public_id=public_id))
    audit("question.viewed", "statement", question.statement_id, guest=guest)
    db.session.commit()
    profile = db.session.get(StaffProfile, question.assigned_staff_id) if question.assigned_staff_id else None
    messages = [m for m in question.messages if not m.internal]
    latest = question.assignments[-1] if question.assignments and profile is not None else None
    reason = patient_reason(latest) if latest and latest.staff_user_id == profile.user_id else None
    dispute = dispute_for(question)
    line = dispute.line_item if dispute else None
    dispute_line = service_names([line], current_locale())[line.id] if line is not None else None
    application = application_for(question)
    return (render_template("questions/thread.html", question=question, profile=profile, messages=messages,
                           form=form, language_name=language_name, reason=reason, dispute=dispute,
                           dispute_line=dispute_line, application=application,
                           screening=screening_sentences(application) if application else None),
        400 if form.errors else 200)
