"""Payment plan use cases: what an account may put in a plan, agreeing to one, saving its card, adding a statement,
autopay and cancelling. Services add and flush; callers commit. Charging the card is in ``charging``.

A plan takes on each statement's amount due when the statement is added (``PlanStatement.amount``). What is
left to pay in the plan is, per statement, that amount less what the plan's charges paid on it, and never more
than the statement's amount due now: money paid another way, or taken off by the billing office, shortens the
plan rather than being charged again.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..billing.models import Account, Statement, utcnow
from ..billing.services import StatementSummary, balances_query, organisation_today, summaries_for_accounts
from ..extensions import db
from ..money import Money
from ..payments import stripe_gateway as gateway
from ..payments.models import SETTLED_STATUSES, Payment
from ..payments.services import card_set_up, customer_for
from . import schedule
from .models import OPEN_PLAN_STATUSES, WAITING_CHARGE_STATUSES, PaymentPlan, PlanCharge, PlanStatement


class PlanRefused(ValueError):
    """The plan, or the change to it, cannot be made: ``reason`` names why, ``values`` fill the message."""

    def __init__(self, reason: str, **values: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


def rules() -> schedule.Rules:
    config = current_app.config
    return schedule.Rules(threshold=int(config["PAYMENT_PLAN_THRESHOLD_MINOR"]),
                          minimum_monthly=int(config["PAYMENT_PLAN_MINIMUM_MONTHLY_MINOR"]),
                          maximum_months=int(config["PAYMENT_PLAN_MAXIMUM_MONTHS"]),
                          notice_days=int(config["PAYMENT_PLAN_NOTICE_DAYS"]))


# The largest autopay limit: what the column holds (a 32-bit integer), far above any bill.
MAX_CAP = 2**31 - 1


def retry_days() -> list[int]:
    return sorted(int(days) for days in current_app.config["PAYMENT_PLAN_RETRY_DAYS"])


# ------------------------------------------------------------------------------------------------- lookups

def plan_by_public_id(public_id: str) -> PaymentPlan | None:
    return db.session.scalar(select(PaymentPlan).where(PaymentPlan.public_id == public_id[:32]))


def open_plan_for(account_id: int) -> PaymentPlan | None:
    return db.session.scalar(select(PaymentPlan).where(PaymentPlan.account_id == account_id,
                                                       PaymentPlan.status.in_(OPEN_PLAN_STATUSES)))


def plans_for_accounts(account_ids: Iterable[int]) -> list[PaymentPlan]:
    ids = list(account_ids)
    if not ids:
        return []
    return list(db.session.scalars(select(PaymentPlan).where(PaymentPlan.account_id.in_(ids))
                                   .order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc())))


def in_open_plan(statement_ids: Iterable[int], statuses: tuple[str, ...] = OPEN_PLAN_STATUSES) -> set[int]:
    """Which of these statements are in a plan being set up or running (or of ``statuses``)."""
    ids = list(statement_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(PlanStatement.statement_id).join(PaymentPlan)
                                  .where(PlanStatement.statement_id.in_(ids), PaymentPlan.status.in_(statuses))))


# ------------------------------------------------------------------------------------------------ amounts

@dataclass(frozen=True)
class Offer:
    """What an account could put in a new plan: its statements with an amount due, not in a plan already."""

    account: Account
    statements: list[StatementSummary]
    total: Money
    eligible: bool
    threshold: Money


def offer(account: Account, now: datetime | None = None) -> Offer:
    summaries = [s for s in summaries_for_accounts([account.id], now) if s.amount_due.is_positive]
    # A plan still waiting for its card is replaced by the new one: its statements are offered again.
    taken = in_open_plan((s.statement.id for s in summaries), ("active",))
    currency = account.organisation.currency
    # Oldest first: the order the plan pays them in.
    candidates = sorted((s for s in summaries if s.statement.id not in taken and s.statement.currency == currency),
                        key=lambda s: (s.statement.statement_date, s.statement.id))
    total = Money(sum(s.amount_due.minor for s in candidates), currency)
    limit = rules()
    return Offer(account, candidates, total, total.minor > limit.threshold and bool(schedule.month_choices(
        total.minor, limit)), Money(limit.threshold, currency))


def paid_by_plan(plan: PaymentPlan, statuses: tuple[str, ...] = SETTLED_STATUSES) -> dict[int, int]:
    """What the plan's instalments have paid on each statement (refunds taken off), in minor units; with
    ``("pending",)``, what they are charging right now."""
    rows = db.session.execute(
        select(Payment.statement_id, func.sum(Payment.amount - Payment.amount_refunded))
        .join(PlanCharge, PlanCharge.id == Payment.plan_charge_id)
        .where(PlanCharge.plan_id == plan.id, PlanCharge.kind == "instalment", Payment.status.in_(statuses))
        .group_by(Payment.statement_id))
    return {statement_id: int(total) for statement_id, total in rows}


@dataclass(frozen=True)
class Part:
    statement: Statement
    left: int  # minor units the plan still has to pay on it


def parts_left(plan: PaymentPlan, now: datetime | None = None, *, less_pending: bool = False) -> list[Part]:
    """What is left to pay in the plan, statement by statement, oldest first; ``less_pending`` also takes off
    what another of the plan's charges is taking right now (for a charge about to be made)."""
    paid = paid_by_plan(plan)
    pending = paid_by_plan(plan, ("pending",)) if less_pending else {}
    due = {s.statement.id: s.amount_due.minor for s in summaries_for_accounts([plan.account_id], now)}
    parts = []
    for covered in sorted(plan.covered, key=lambda c: (c.statement.statement_date, c.statement_id)):
        taking = pending.get(covered.statement_id, 0)
        left = min(covered.amount - paid.get(covered.statement_id, 0) - taking,
                   due.get(covered.statement_id, 0) - taking)
        if left > 0:
            parts.append(Part(covered.statement, left))
    return parts


def left_to_pay(plan: PaymentPlan, now: datetime | None = None) -> Money:
    return Money(sum(part.left for part in parts_left(plan, now)), plan.currency)


def paid_so_far(plan: PaymentPlan) -> Money:
    return Money(sum(paid_by_plan(plan).values()), plan.currency)


# ------------------------------------------------------------------------------------------------ agreeing

def preview(total: int, months: int, day: int, today: date, *, revision: bool = False) -> list[schedule.Instalment]:
    """The schedule for these choices; raises ScheduleRefused when it breaks the organisation's rules."""
    return schedule.build(total, months, day, today, rules(), revision=revision)


def _schedule_charges(plan: PaymentPlan, instalments: list[schedule.Instalment]) -> None:
    for instalment in instalments:
        db.session.add(PlanCharge(plan=plan, kind="instalment", due_on=instalment.due_on, amount=instalment.amount,
                                  status="scheduled", next_attempt_on=instalment.due_on))


def create_plan(account: Account, *, expected_total: int, months: int, day: int, email: str, locale: str,
                user: User | None, now: datetime | None = None) -> PaymentPlan:
    """Agree to a plan for what the account owes now, waiting for its card.

    ``expected_total`` is the total the patient saw: if the balance changed since (a payment, a new statement),
    nothing is made and PlanRefused("total_changed") says so, so that no one agrees to a schedule unseen.
    A plan the account left waiting for a card is replaced.
    """
    now = now or utcnow()
    current = offer(account, now)
    if current.total.minor != expected_total:
        raise PlanRefused("total_changed")
    instalments = preview(current.total.minor, months, day, organisation_today(account.organisation, now))
    waiting = open_plan_for(account.id)
    if waiting is not None:
        if waiting.status != "awaiting_card":
            raise PlanRefused("already_open")
        end_plan(waiting, "cancelled", now=now, reason=None, user_id=None)
        db.session.flush()
    plan = PaymentPlan(account=account, status="awaiting_card", currency=current.total.currency, day_of_month=day,
                       email=email, locale=locale, created_by_user_id=user.id if user else None, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(plan)
            for summary in current.statements:
                db.session.add(PlanStatement(plan=plan, statement=summary.statement,
                                             amount=summary.amount_due.minor, added_at=now))
            _schedule_charges(plan, instalments)
            db.session.flush()
    except IntegrityError:
        # Another request set one up for the account at the same moment (a double click).
        raise PlanRefused("already_open") from None
    return plan


def card_form_secret(plan: PaymentPlan) -> str:
    """A SetupIntent for saving the plan's card, to be charged later without the patient there."""
    customer = customer_for(plan.account_id)
    try:
        _id, secret = gateway.create_setup_intent(customer=customer, metadata={"portal_plan": plan.public_id},
                                                  usage="off_session")
    except gateway.NotFound:
        customer = customer_for(plan.account_id, renew=True)
        _id, secret = gateway.create_setup_intent(customer=customer, metadata={"portal_plan": plan.public_id},
                                                  usage="off_session")
    return secret


def save_card(plan: PaymentPlan, setup_intent_id: str, now: datetime | None = None) -> bool:
    """Keep the card the browser set up with Stripe.js for the plan's charges; True when the plan starts now.

    The SetupIntent is read back from Stripe, never trusted from the browser: it must have succeeded, for this
    plan, on this account's Customer. Raises PlanRefused("card_not_set_up") or GatewayError.
    """
    if plan.status not in ("awaiting_card", "active", "completed"):
        raise PlanRefused("not_open")
    setup = card_set_up(setup_intent_id, ("portal_plan", plan.public_id), plan.account.stripe_customer_id)
    if setup is None:
        raise PlanRefused("card_not_set_up")
    plan.stripe_payment_method_id = setup.payment_method
    plan.card_brand, plan.card_last4 = setup.card_brand, setup.card_last4
    if plan.status == "awaiting_card":
        plan.status = "active"
        plan.activated_at = now or utcnow()
        _keep_notice(plan, organisation_today(plan.account.organisation, plan.activated_at))
        return True
    return False


def _keep_notice(plan: PaymentPlan, today: date) -> None:
    """A card saved days after agreeing: move the schedule on by whole months if its first date no longer leaves
    time for the notice, so that no payment is taken without one."""
    waiting = [charge for charge in plan.instalments if charge.status == "scheduled"]
    first = schedule.first_due(today, plan.day_of_month, rules().notice_days)
    if not waiting or waiting[0].due_on >= first:
        return
    for n, charge in enumerate(waiting):
        charge.due_on = charge.next_attempt_on = schedule.add_months(first, n)


def refused_charges(plan: PaymentPlan) -> list[PlanCharge]:
    """Charges refused and waiting for another try: a new card is tried on them at once."""
    return [charge for charge in plan.charges if charge.status == "failed"]


def next_instalment(plan: PaymentPlan) -> PlanCharge | None:
    return next((c for c in plan.instalments if c.waiting), None)


# ------------------------------------------------------------------------------------------------ changing

def addable(plan: PaymentPlan, now: datetime | None = None) -> list[StatementSummary]:
    """Statements of the plan's account with an amount due that the plan does not cover yet, oldest first."""
    covered = {c.statement_id for c in plan.covered}
    summaries = [s for s in summaries_for_accounts([plan.account_id], now)
                 if s.amount_due.is_positive and s.statement.id not in covered
                 and s.statement.currency == plan.currency]
    taken = in_open_plan(s.statement.id for s in summaries)
    return sorted((s for s in summaries if s.statement.id not in taken),
                  key=lambda s: (s.statement.statement_date, s.statement.id))


def revision_total(plan: PaymentPlan, summary: StatementSummary, now: datetime | None = None) -> int:
    """What the plan would have left to pay with ``summary``'s statement added."""
    return left_to_pay(plan, now).minor + summary.amount_due.minor


def add_statement(plan: PaymentPlan, summary: StatementSummary, *, expected_total: int, months: int, day: int,
                  now: datetime | None = None) -> None:
    """Add a statement to a running plan and recompute the schedule over what is left, as the patient chose."""
    now = now or utcnow()
    if plan.status != "active":
        raise PlanRefused("not_open")
    if summary.statement.id not in {s.statement.id for s in addable(plan, now)}:
        raise PlanRefused("not_addable")
    total = revision_total(plan, summary, now)
    if total != expected_total:
        raise PlanRefused("total_changed")
    instalments = preview(total, months, day, organisation_today(plan.account.organisation, now), revision=True)
    db.session.add(PlanStatement(plan=plan, statement=summary.statement, amount=summary.amount_due.minor,
                                 added_at=now))
    # The instalments not yet made are replaced, and an autopay waiting for the statement is not needed.
    stop_waiting(plan, "cancelled", kind="autopay", statement_id=summary.statement.id)
    stop_waiting(plan, "replaced", kind="instalment", refuse_if_charging=True)
    plan.day_of_month = day
    _schedule_charges(plan, instalments)
    db.session.flush()


def set_autopay(plan: PaymentPlan, cap: Money | None, now: datetime | None = None) -> None:
    """Switch autopay on (later statements up to ``cap`` are charged on their due date) or off (None); it goes on
    after the plan is paid off, with the same card."""
    if plan.status not in ("active", "completed") or not plan.has_card:
        raise PlanRefused("not_open")
    if cap is not None:
        if cap.currency != plan.currency or not cap.is_positive:
            raise PlanRefused("cap_not_positive")
        if cap.minor > MAX_CAP:
            raise PlanRefused("cap_too_large", largest=MAX_CAP)
        if plan.autopay_cap is None:
            plan.autopay_since = now or utcnow()
        plan.autopay_cap = cap.minor
    else:
        plan.autopay_cap = None
        plan.autopay_since = None
        stop_waiting(plan, "cancelled", kind="autopay")


def stop_waiting(plan: PaymentPlan, status: str, *, kind: str | None = None, statement_id: int | None = None,
                 refuse_if_charging: bool = False) -> None:
    """Mark the plan's charges still waiting (of ``kind``, for ``statement_id``) as ``status``, in one conditional
    UPDATE, then refuse (PlanRefused("charging")) if one is being charged: a worker that claimed a charge a moment
    ago either got it first (and this is refused, to be rolled back) or finds it no longer waiting."""
    db.session.flush()
    where = [PlanCharge.plan_id == plan.id, PlanCharge.status.in_(WAITING_CHARGE_STATUSES)]
    if kind is not None:
        where.append(PlanCharge.kind == kind)
    if statement_id is not None:
        where.append(PlanCharge.statement_id == statement_id)
    db.session.execute(update(PlanCharge).where(*where).values(status=status, next_attempt_on=None)
                       .execution_options(synchronize_session=False))
    for charge in plan.charges:
        db.session.expire(charge)
    if refuse_if_charging and db.session.scalar(
            select(func.count()).select_from(PlanCharge).where(PlanCharge.plan_id == plan.id,
                                                               PlanCharge.status == "charging")):
        raise PlanRefused("charging")


def end_plan(plan: PaymentPlan, status: str, *, now: datetime, reason: str | None, user_id: int | None,
             refuse_if_charging: bool = True) -> None:
    """End the plan as ``status``: its charges still waiting are cancelled; what is left stays on the statements.
    Raises PlanRefused("charging") while one of its charges is being made (the caller rolls back), unless
    ``refuse_if_charging`` is off (the worker breaking the plan lets an autopay being made finish)."""
    plan.status = status
    plan.ended_at = now
    plan.end_reason = reason
    plan.ended_by_user_id = user_id
    stop_waiting(plan, "cancelled", refuse_if_charging=refuse_if_charging)


def cancel(plan: PaymentPlan, *, user: User | None, reason: str | None = None, now: datetime | None = None) -> None:
    """End the plan: nothing more is charged; what is left stays due on the statements."""
    if plan.status not in ("awaiting_card", "active", "broken"):
        raise PlanRefused("not_open")
    end_plan(plan, "cancelled", now=now or utcnow(), reason=reason, user_id=user.id if user else None)
    db.session.flush()


# Broken plans first: someone in the billing office has to call the patient.
STAFF_ORDER = {"broken": 0, "active": 1, "awaiting_card": 2, "completed": 3, "cancelled": 4}


def plans_for_staff(statement_ids: Iterable[int] | None, limit: int = 200) -> list[PaymentPlan]:
    """Plans for the billing office's list: every plan (``None``), or those covering one of these statements."""
    query = select(PaymentPlan).order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc()).limit(limit)
    if statement_ids is not None:
        ids = list(statement_ids)
        if not ids:
            return []
        query = query.where(PaymentPlan.id.in_(select(PlanStatement.plan_id)
                                               .where(PlanStatement.statement_id.in_(ids))))
    plans = list(db.session.scalars(query))
    return sorted(plans, key=lambda plan: STAFF_ORDER.get(plan.status, 9))


@dataclass(frozen=True)
class PlanHint:
    """What a statement page says about plans: the plan that covers the statement or runs on its account, and
    whether the patient could set one up."""

    plan: PaymentPlan | None
    covers: bool
    can_set_up: bool


def hint_for(statement: Statement, summary: StatementSummary, *, staff: bool) -> PlanHint:
    if staff:
        plan = db.session.scalar(select(PaymentPlan).join(PlanStatement)
                                 .where(PlanStatement.statement_id == statement.id)
                                 .order_by(PaymentPlan.created_at.desc(), PaymentPlan.id.desc()).limit(1))
        return PlanHint(plan, plan is not None, False)
    plan = open_plan_for(statement.account_id)
    if plan is not None:
        return PlanHint(plan, statement.id in {c.statement_id for c in plan.covered}, False)
    return PlanHint(None, False, summary.amount_due.is_positive and _could_set_up(statement.account))


def _could_set_up(account: Account) -> bool:
    """Whether ``offer`` would find the account eligible, in one query: with no plan open on the account, its
    offer is every statement with an amount due."""
    currency = account.organisation.currency
    total = 0
    for statement, owes, credited, paid in db.session.execute(
            balances_query().where(Statement.account_id == account.id)):
        due = int(owes) - int(credited) - int(paid)
        if due > 0 and statement.currency == currency:
            total += due
    limit = rules()
    return total > limit.threshold and bool(schedule.month_choices(total, limit))
