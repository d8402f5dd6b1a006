"""Applying for financial assistance and deciding it. Services add and flush; the caller commits.

An application is screened at once against the federal poverty guidelines (``screening``) and the hospital's
tiers, routed to a named staff member as a question of topic "financial_assistance", and puts the account's
collection on hold until it is decided. An approval may take a discount off the statement: a
``BalanceAdjustment`` that every balance counts and the day's export sends back.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..billing.models import BalanceAdjustment, Statement
from ..billing.services import summary_for
from ..extensions import db
from ..questions import services as questions
from ..questions.models import RESOLVED, Question
from . import screening, uploads
from .models import APPROVED, DENIED, PENDING, AssistanceApplication, AssistanceDocument

SHIPPED_GUIDELINES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guidelines")


class AssistanceError(ValueError):
    """An application or decision that cannot be taken as it is; ``code`` says why, for the form to explain."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Policy:
    """The hospital's screening rules: the year's guidelines for its region, and its discount tiers."""

    guidelines: screening.Guidelines
    tiers: list[screening.Tier]
    apply_days: int


@functools.cache
def _policy(directory: str, year: int | None, region: str, tiers: tuple, apply_days: int) -> Policy:
    return Policy(screening.load_guidelines(directory, year, region), screening.tiers_from(list(tiers)), apply_days)


def policy() -> Policy:
    config = current_app.config
    year = config["FINANCIAL_ASSISTANCE_YEAR"]
    return _policy(config["FINANCIAL_ASSISTANCE_GUIDELINES_DIR"] or SHIPPED_GUIDELINES,
                   int(year) if year else None, config["FINANCIAL_ASSISTANCE_REGION"],
                   tuple(tuple(tier) for tier in config["FINANCIAL_ASSISTANCE_TIERS"]),
                   int(config["FINANCIAL_ASSISTANCE_APPLY_DAYS"]))


def pending_for(account_id: int) -> AssistanceApplication | None:
    return db.session.scalar(select(AssistanceApplication).where(AssistanceApplication.account_id == account_id,
                                                                 AssistanceApplication.status == PENDING))


def application_for(question: Question) -> AssistanceApplication | None:
    if question.topic != "financial_assistance":
        return None
    return db.session.scalar(select(AssistanceApplication).where(AssistanceApplication.question_id == question.id))


def accounts_on_hold() -> list[AssistanceApplication]:
    """Every pending application, oldest first: the accounts whose collection is on hold."""
    return list(db.session.scalars(select(AssistanceApplication).where(AssistanceApplication.status == PENDING)
                                   .order_by(AssistanceApplication.created_at, AssistanceApplication.id)))


@dataclass(frozen=True)
class NewApplication:
    household_size: int
    annual_income: int  # minor units of the statement's currency
    question: questions.NewQuestion
    documents: tuple[uploads.CheckedFile, ...] = ()


def apply(statement: Statement, new: NewApplication, *, user: User | None,
          now: datetime | None = None) -> AssistanceApplication:
    """Screen the application, route it to a named staff member and put the account's collection on hold."""
    rules = policy()
    if statement.currency != rules.guidelines.currency:
        # The federal guidelines are in dollars; a hospital billing in another currency screens by hand.
        raise AssistanceError("no_guidelines")
    if pending_for(statement.account_id) is not None:
        raise AssistanceError("already_pending")
    if len(new.documents) > uploads.MAX_FILES:
        raise AssistanceError("too_many_files")
    try:
        result = screening.screen(new.annual_income, new.household_size, rules.guidelines, rules.tiers)
    except ValueError:
        raise AssistanceError("household") from None
    now = now or questions.utcnow()
    stored: list[str] = []
    try:
        # A savepoint: when another request applied for the account at the same moment, the unique index on
        # pending applications refuses this one, and its question goes with it.
        with db.session.begin_nested():
            application = _add_application(statement, new, result, rules, user, now, stored)
    except questions.QuestionError as error:
        raise AssistanceError(str(error)) from None
    except IntegrityError:
        _remove(stored)
        raise AssistanceError("already_pending") from None
    except Exception:
        # Nothing is kept of an application that is not: its files go with it.
        _remove(stored)
        raise
    return application


def _remove(stored: list[str]) -> None:
    for name in stored:
        uploads.remove(name)


def _add_application(statement: Statement, new: NewApplication, result: screening.Screening, rules: Policy,
                     user: User | None, now: datetime, stored: list[str]) -> AssistanceApplication:
    question = questions.ask(statement, None, new.question, user=user, now=now)
    application = AssistanceApplication(
        account_id=statement.account_id, statement=statement, question=question,
        applied_by_user_id=user.id if user else None, household_size=new.household_size,
        annual_income=new.annual_income, currency=statement.currency, guideline_year=rules.guidelines.year,
        guideline=result.guideline, poverty_percent=result.percent, preliminary_discount=result.discount_percent,
        status=PENDING, created_at=now)
    db.session.add(application)
    for document in new.documents:
        name = uploads.store(document)
        stored.append(name)
        db.session.add(AssistanceDocument(application=application, kind=document.kind, stored_name=name,
                                          filename=document.filename, size=len(document.data),
                                          sha256=document.sha256, uploaded_at=now))
    db.session.flush()
    return application


def discountable(statement: Statement) -> int:
    """What a discount may take off: the patient's share of the bill less what was taken off before, in minor
    units. Payments do not lower it: a discount larger than what is left to pay leaves a credit, refunded to
    the patient (what they paid beyond their share under the policy)."""
    summary = summary_for(statement)
    credited = summary.credited.minor if summary.credited is not None else 0
    return max(0, summary.patient_owes.minor - credited)


def suggested_discount(application: AssistanceApplication) -> int:
    """The preliminary discount applied to the bill (``discountable``), in minor units, rounded down."""
    if not application.preliminary_discount:
        return 0
    return discountable(application.statement) * application.preliminary_discount // 100


def decide(application: AssistanceApplication, *, approved: bool, amount: int | None, note: str, by: User,
           now: datetime | None = None) -> AssistanceApplication:
    """Approve (with a discount of ``amount`` minor units off the statement, up to ``discountable``) or deny;
    answer the patient in the conversation; lift the hold."""
    now = now or questions.utcnow()
    db.session.execute(select(Statement.id).where(Statement.id == application.statement_id).with_for_update())
    db.session.refresh(application)
    if not application.pending:
        raise AssistanceError("already_decided")
    try:
        body = questions.clean_body(note)
    except questions.QuestionError as error:
        raise AssistanceError(f"note_{error}") from None
    adjustment = None
    if amount:
        if not approved:
            raise AssistanceError("amount_only_when_approved")
        if amount > discountable(application.statement):
            raise AssistanceError("amount_too_large")
        statement = application.statement
        adjustment = BalanceAdjustment(statement=statement, amount=amount, currency=statement.currency,
                                       reason="financial_assistance", note=body, created_by_user_id=by.id,
                                       created_at=now)
        db.session.add(adjustment)
    application.status = APPROVED if approved else DENIED
    application.decided_at, application.decided_by_user_id = now, by.id
    application.decision_note, application.adjustment = body, adjustment
    questions.staff_reply(application.question, by, body, internal=False, now=now)
    questions.set_status(application.question, RESOLVED, now=now)
    db.session.flush()
    return application
