"""Disputing a line and resolving the dispute. Services add and flush; the caller commits.

A dispute is a question of topic "dispute" about the line, routed to a named staff member like any other, with
the line marked as disputed while it is open. Resolving it answers the question; an outcome of "corrected" also
takes money off the statement with a ``BalanceAdjustment``, which every balance counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from ..auth.models import User
from ..billing.models import BalanceAdjustment, LineItem, Statement
from ..extensions import db
from ..questions import services as questions
from ..questions.models import RESOLVED, Question, StaffProfile
from .models import CORRECTED, OUTCOMES, REASONS, LineDispute


class DisputeError(ValueError):
    """A dispute or a resolution that cannot be taken as it is; ``code`` says why, for the form to explain."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class LineDisputeView:
    """A line's latest dispute as the statement shows it, with the named person who has it."""

    dispute: LineDispute
    staff_name: str | None


def open_dispute_on(line_id: int) -> LineDispute | None:
    return db.session.scalar(select(LineDispute).where(LineDispute.line_item_id == line_id,
                                                       LineDispute.outcome.is_(None)))


def disputes_on(statement_id: int) -> dict[int, LineDisputeView]:
    """Each disputed line's latest dispute on this statement, by line id, in one query."""
    rows = db.session.execute(
        select(LineDispute, StaffProfile.display_name)
        .join(Question, LineDispute.question_id == Question.id)
        .outerjoin(StaffProfile, StaffProfile.user_id == Question.assigned_staff_id)
        .where(LineDispute.statement_id == statement_id)
        # The question (its address) and any correction (its amount) are what the page says of each dispute.
        .options(contains_eager(LineDispute.question), joinedload(LineDispute.adjustment))
        .order_by(LineDispute.opened_at, LineDispute.id)).all()
    return {dispute.line_item_id: LineDisputeView(dispute, name) for dispute, name in rows
            if dispute.line_item_id is not None}


def dispute_for(question: Question) -> LineDispute | None:
    if question.topic != "dispute":
        return None
    return db.session.scalar(select(LineDispute).where(LineDispute.question_id == question.id))


def open_dispute(statement: Statement, line: LineItem, reason: str, new: questions.NewQuestion, *,
                 user: User | None, now: datetime | None = None) -> LineDispute:
    """Mark ``line`` as disputed for ``reason`` and route the patient's explanation (``new``, of topic "dispute")
    to a named staff member.

    ``line`` must be on ``statement`` (the view checks the viewer may see the statement)."""
    if line.visit.statement_id != statement.id:
        raise DisputeError("line_not_on_statement")
    if new.topic != "dispute":
        raise DisputeError("not_a_dispute")
    if reason not in REASONS:
        raise DisputeError("unknown_reason")
    if open_dispute_on(line.id) is not None:
        raise DisputeError("already_open")
    if correctable(line) == 0:
        # Nothing owed on it: no amount to dispute (a question about it still reaches the billing office).
        raise DisputeError("nothing_owed")
    now = now or questions.utcnow()
    try:
        # A savepoint: when another request disputed the line at the same moment, the unique index on open
        # disputes refuses this one, and its question goes with it.
        with db.session.begin_nested():
            question = questions.ask(statement, line, new, user=user, now=now)
            dispute = LineDispute(line_item=line, statement=statement, question=question, reason=reason,
                                  opened_at=now)
            db.session.add(dispute)
            db.session.flush()
    except questions.QuestionError as error:
        raise DisputeError(str(error)) from None
    except IntegrityError:
        raise DisputeError("already_open") from None
    return dispute


def credited_on_line(line_id: int) -> int:
    """What the billing office has already taken off this line in the portal, in minor units."""
    return int(db.session.scalar(select(func.coalesce(func.sum(BalanceAdjustment.amount), 0))
                                 .where(BalanceAdjustment.line_item_id == line_id)))


def correctable(line: LineItem | None) -> int:
    """The most a correction may take off ``line``: what the patient still owes for it, in minor units (nothing
    once the billing system has taken the line back)."""
    if line is None:
        return 0
    return max(0, line.patient_owes_minor - credited_on_line(line.id))


def resolve(dispute: LineDispute, *, outcome: str, note: str, amount: int | None, by: User,
            now: datetime | None = None) -> LineDispute:
    """Record the billing office's outcome, answer the patient in the dispute's conversation and close it.

    ``amount`` (minor units) is what a correction takes off the line: more than nothing and no more than the
    patient still owes for it. Other outcomes take nothing off."""
    now = now or questions.utcnow()
    # The statement's row lock, as payments take it: two resolutions (or a resolution and a payment) of one
    # statement happen one after the other, each seeing what the other left.
    db.session.execute(select(Statement.id).where(Statement.id == dispute.statement_id).with_for_update())
    db.session.refresh(dispute)
    if not dispute.is_open:
        raise DisputeError("already_resolved")
    if outcome not in OUTCOMES:
        raise DisputeError("unknown_outcome")
    try:
        body = questions.clean_body(note)
    except questions.QuestionError as error:
        raise DisputeError(f"note_{error}") from None
    adjustment = None
    if outcome == CORRECTED:
        if dispute.line_item is None:
            raise DisputeError("line_gone")
        if not amount:
            raise DisputeError("amount_needed")
        if amount > correctable(dispute.line_item):
            raise DisputeError("amount_too_large")
        statement = dispute.statement
        adjustment = BalanceAdjustment(statement=statement, line_item=dispute.line_item, amount=amount,
                                       currency=statement.currency, reason="dispute_correction", note=body,
                                       created_by_user_id=by.id, created_at=now)
        db.session.add(adjustment)
    elif amount:
        raise DisputeError("amount_only_when_corrected")
    dispute.outcome, dispute.outcome_note, dispute.resolved_at = outcome, body, now
    dispute.resolved_by_user_id, dispute.adjustment = by.id, adjustment
    questions.staff_reply(dispute.question, by, body, internal=False, now=now)
    questions.set_status(dispute.question, RESOLVED, now=now)
    db.session.flush()
    return dispute
