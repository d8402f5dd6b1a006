"""The emails a plan sends, each in the language the patient set it up in, and the question that puts a broken
plan in a billing staff member's inbox. Queued in the caller's transaction; the outbox sends them."""
from __future__ import annotations

from datetime import date

from flask import current_app, render_template
from flask_babel import force_locale

from ..auth.models import User
from ..extensions import db
from ..i18n import _l
from ..money import Money
from ..outbox.services import queue_mail
from ..questions import services as questions
from ..questions.models import Question, StaffProfile
from ..urls import public_link
from .models import PaymentPlan, PlanCharge
from .services import left_to_pay


SUBJECTS = {
    "plan_agreed": _l("Your payment plan is set up"),
    "plan_notice": _l("A payment plan charge is coming up"),
    "plan_refused": _l("We could not charge your card for your payment plan"),
    "plan_autopay_missed": _l("We could not charge your card for your payment plan"),
    "plan_cancelled": _l("Your payment plan was cancelled"),
    "plan_broken": _l("Your payment plan has ended"),
}


def _locale(plan: PaymentPlan) -> str:
    return plan.locale if plan.locale in current_app.config["SUPPORTED_LOCALES"] else \
        current_app.config["DEFAULT_LOCALE"]


def _send(plan: PaymentPlan, template: str, **values) -> None:  # noqa: ANN003 (the template's values)
    with force_locale(_locale(plan)):
        body = render_template(f"email/{template}.txt", plan=plan, organisation=plan.account.organisation,
                               link=public_link("plans.plan", public_id=plan.public_id), **values)
        subject = str(SUBJECTS[template])
    queue_mail(plan.email, subject, body, kind="payment_plan")


def agreed(plan: PaymentPlan) -> None:
    _send(plan, "plan_agreed")


def notice(charge: PlanCharge, amount: int) -> None:
    _send(charge.plan, "plan_notice", charge=charge, amount=Money(amount, charge.plan.currency))


def refused(charge: PlanCharge, next_try: date) -> None:
    _send(charge.plan, "plan_refused", charge=charge, next_try=next_try)


def autopay_missed(charge: PlanCharge) -> None:
    _send(charge.plan, "plan_autopay_missed", charge=charge)


def cancelled(plan: PaymentPlan, left: Money) -> None:
    _send(plan, "plan_cancelled", left=left)


def broken(plan: PaymentPlan, charge: PlanCharge) -> Question:
    """End-of-plan email to the patient, and a question of topic "payment plan" routed to a named staff member."""
    left = left_to_pay(plan)
    first = min(plan.covered, key=lambda c: (c.statement.statement_date, c.statement_id)).statement
    languages = current_app.config["QUESTION_LANGUAGES"]
    language = plan.locale if plan.locale in languages else current_app.config["DEFAULT_LOCALE"]
    with force_locale(_locale(plan)):
        body = render_template("email/plan_broken_question.txt", plan=plan, charge=charge, left=left).strip()
    user = db.session.get(User, plan.created_by_user_id) if plan.created_by_user_id else None
    question = questions.ask(first, None, questions.NewQuestion(topic="payment_plan", body=body, language=language,
                                                                contact_method="email", contact_email=plan.email),
                             user=user)
    profile = db.session.get(StaffProfile, question.assigned_staff_id) if question.assigned_staff_id else None
    _send(plan, "plan_broken", charge=charge, left=left, staff=profile.display_name if profile else None)
    return question
