"""The billing office's side of questions: the inbox, a conversation beside the bill, replies, notes,
status and reassignment. Staff see the questions given to them; supervisors see them all."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.web import audit
from ..billing.services import statement_page
from ..extensions import db
from ..glossary.web import term_marker
from ..i18n import _, current_locale
from . import services
from .forms import ReassignForm, StaffReplyForm, StatusForm, options
from .models import RESOLVED, STATUSES, Question, StaffProfile
from .reasons import reason_sentence
from .views import STATUS_LABELS

bp = Blueprint("staff", __name__)


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
    questions = db.session.scalars(query.order_by(Question.due_at, Question.id)).all()
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
    status.status.choices = options((s, STATUS_LABELS[s]) for s in STATUSES)
    return {"reply_form": StaffReplyForm(prefix="reply"), "status_form": status, "reassign_form": reassign}


def _render(question: Question, forms: dict, code: int = 200):
    page = statement_page(question.statement, current_locale())
    names = {p.user_id: p.display_name for p in db.session.scalars(select(StaffProfile))}
    reasons = [(a, reason_sentence(a, names.get(a.staff_user_id, ""), names.get(a.assigned_by_user_id)))
               for a in question.assignments]
    return render_template("staff/question.html", question=question, page=page, summary=page.summary,
                           statement=question.statement, names=names, reasons=reasons, terms=term_marker(),
                           **forms), code


@bp.route("/staff/questions/<public_id>", methods=["GET", "POST"])
@login_required
def question(public_id: str):
    question = _question(public_id)
    forms = _forms(question)
    reply = forms["reply_form"]
    if request.method == "POST":
        if not reply.validate_on_submit():
            return _render(question, forms, 400)
        services.staff_reply(question, current_user, reply.message.data, internal=reply.kind.data == "note")
        audit("question.answered", "statement", question.statement_id)
        db.session.commit()
        flash(_("Your note was saved.") if reply.kind.data == "note" else _("Your reply was sent."), "success")
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
    flash(_("Status changed to: %(status)s.", status=STATUS_LABELS[form.status.data]), "success")
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
