"""Charging plans' saved cards: each instalment and autopay on its date, after a notice, with retries after a
refusal and, after the last, a broken plan handed to a named member of the billing staff.

Safe to run twice, or in two workers at once. A charge is claimed with one conditional UPDATE before Stripe is
called; its card payments are stored (with one-time keys) before Stripe is asked to charge them, each with its
own idempotency key; and a run that finds a claim left unfinished (a worker died mid-way) finishes it, asking
Stripe whether each payment was already made rather than making it again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..billing.models import Account, Statement, as_utc, utcnow
from ..billing.services import organisation_today, summaries_for_accounts
from ..extensions import db
from ..payments import services as payments
from ..payments import stripe_gateway as gateway
from ..payments.models import SETTLED_STATUSES, Payment
from ..payments.receipts import queue_receipts
from . import notify
from .models import WAITING_CHARGE_STATUSES, PaymentPlan, PlanCharge, PlanStatement
from .services import end_plan, left_to_pay, parts_left, retry_days, rules

log = logging.getLogger("portal.plans")

# A claim older than this with its charge unfinished was left by a worker that stopped: the next run finishes it.
STALE_CLAIM = timedelta(minutes=10)
# How far Stripe's clock may be behind ours, for finding a charge made just after we stored its payment.
CLOCK_MARGIN = 3600
# Plans whose card is charged: autopay goes on after the instalments are all paid.
CHARGING_PLAN_STATUSES = ("active", "completed")


@dataclass
class RunReport:
    notices: int = 0
    autopay_scheduled: int = 0
    paid: list[PlanCharge] = field(default_factory=list)
    refused: list[PlanCharge] = field(default_factory=list)
    broken: list[PaymentPlan] = field(default_factory=list)
    completed: list[PaymentPlan] = field(default_factory=list)


def today_for(plan: PaymentPlan, now: datetime) -> date:
    return organisation_today(plan.account.organisation, now)


def run(now: datetime | None = None) -> RunReport:
    """Everything due now: autopay for new statements, notices, then each charge whose day has come."""
    now = now or utcnow()
    report = RunReport()
    schedule_autopay(now, report)
    send_notices(now, report)
    for charge_id in due_charge_ids(now):
        charge(charge_id, now=now, report=report)
    return report


# ------------------------------------------------------------------------------------------------ autopay

def schedule_autopay(now: datetime, report: RunReport) -> None:
    """A charge for each statement that arrived since autopay was switched on, within its cap, on its due date."""
    plans = db.session.scalars(select(PaymentPlan).where(PaymentPlan.status.in_(CHARGING_PLAN_STATUSES),
                                                         PaymentPlan.autopay_cap.is_not(None),
                                                         PaymentPlan.stripe_payment_method_id.is_not(None))).all()
    notice = timedelta(days=rules().notice_days)
    for plan in plans:
        known = set(db.session.scalars(select(PlanCharge.statement_id).where(PlanCharge.plan_id == plan.id,
                                                                             PlanCharge.kind == "autopay")))
        in_plan = set(db.session.scalars(select(PlanStatement.statement_id).where(PlanStatement.plan_id == plan.id)))
        since = as_utc(plan.autopay_since)
        today = today_for(plan, now)
        for summary in summaries_for_accounts([plan.account_id], now):
            statement = summary.statement
            if (statement.id in known or statement.id in in_plan or as_utc(statement.created_at) < since
                    or statement.currency != plan.currency or not summary.amount_due.is_positive
                    or summary.amount_due.minor > plan.autopay_cap):
                continue
            # Never sooner than the notice the patient was promised.
            due_on = max(statement.due_date, today + notice)
            try:
                with db.session.begin_nested():
                    db.session.add(PlanCharge(plan=plan, kind="autopay", statement=statement, due_on=due_on,
                                              amount=summary.amount_due.minor, status="scheduled",
                                              next_attempt_on=due_on))
            except IntegrityError:
                continue  # another run scheduled it a moment ago
            report.autopay_scheduled += 1
    db.session.commit()


# ------------------------------------------------------------------------------------------------ notices

def expected_amount(charge: PlanCharge, now: datetime) -> int:
    """What the charge would take if it were made now (less when the bill was paid down another way)."""
    left = charge.amount - paid_on(charge)
    if charge.kind == "autopay":
        due = next((s.amount_due.minor for s in summaries_for_accounts([charge.plan.account_id], now)
                    if s.statement.id == charge.statement_id), 0)
        return max(min(left, due), 0)
    return max(min(left, left_to_pay(charge.plan, now).minor), 0)


def send_notices(now: datetime, report: RunReport) -> None:
    """Tell each patient, ``PAYMENT_PLAN_NOTICE_DAYS`` ahead, what will be charged on which day."""
    days = rules().notice_days
    charges = db.session.scalars(
        select(PlanCharge).join(PaymentPlan)
        .where(PlanCharge.status == "scheduled", PaymentPlan.status.in_(CHARGING_PLAN_STATUSES),
               PlanCharge.next_attempt_on <= now.date() + timedelta(days=days + 1))).all()
    for charge in charges:
        if charge.notice_sent_for == charge.next_attempt_on or (charge.kind == "instalment"
                                                                and charge.plan.status != "active"):
            continue
        today = today_for(charge.plan, now)
        if (charge.next_attempt_on - today).days > days:
            continue
        if charge.next_attempt_on < today + timedelta(days=days):
            # Too late to give the notice promised (the worker was stopped): the charge waits for it.
            charge.next_attempt_on = today + timedelta(days=days)
        amount = expected_amount(charge, now)
        if amount:
            notify.notice(charge, amount)
            report.notices += 1
        charge.notice_sent_for = charge.next_attempt_on
        db.session.commit()


# ------------------------------------------------------------------------------------------------ charging

def due_charge_ids(now: datetime) -> list[int]:
    """Charges whose day has come on their hospital's calendar, and claims left unfinished."""
    rows = db.session.execute(
        select(PlanCharge.id, PlanCharge.kind, PlanCharge.next_attempt_on, PaymentPlan.status, Account)
        .join(PaymentPlan, PaymentPlan.id == PlanCharge.plan_id).join(Account, Account.id == PaymentPlan.account_id)
        .where(PlanCharge.status.in_(WAITING_CHARGE_STATUSES), PaymentPlan.status.in_(CHARGING_PLAN_STATUSES),
               PlanCharge.next_attempt_on <= now.date() + timedelta(days=1))
        .order_by(PlanCharge.next_attempt_on, PlanCharge.id)).all()
    due = [charge_id for charge_id, kind, on, status, account in rows
           if (kind == "autopay" or status == "active") and on <= organisation_today(account.organisation, now)]
    stale = db.session.scalars(select(PlanCharge.id).where(PlanCharge.status == "charging",
                                                           PlanCharge.claimed_at < now - STALE_CLAIM)).all()
    return due + list(stale)


def paid_on(charge: PlanCharge) -> int:
    """What the charge's payments brought in so far, in minor units."""
    return sum(p.amount - p.amount_refunded for p in _payments(charge) if p.status in SETTLED_STATUSES)


def _payments(charge: PlanCharge, attempt: int | None = None) -> list[Payment]:
    query = select(Payment).where(Payment.plan_charge_id == charge.id).order_by(Payment.id)
    if attempt is not None:
        query = query.where(Payment.attempt_key.startswith(f"plan-{charge.public_id}-{attempt}-"))
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def _portions(charge: PlanCharge, now: datetime) -> list[tuple[Statement, int]]:
    """Which statements this try pays, and how much of each: the plan's oldest first.

    Each statement's part is a card charge of its own, so none is left smaller than the smallest charge
    (``PAYMENT_MINIMUM_MINOR``, above Stripe's own minimum): a statement that would be left with less is paid off
    now, and a part that small is left to the next payment. The plan's last payment takes whatever is left.
    """
    wanted = charge.amount - paid_on(charge)
    if charge.kind == "autopay":
        amount = min(wanted, expected_amount(charge, now))
        return [(charge.statement, amount)] if amount > 0 else []
    plan = charge.plan
    parts = parts_left(plan, now, less_pending=True)
    if not any(c.id != charge.id and c.status in ("scheduled", "failed", "charging") for c in plan.instalments):
        wanted = sum(part.left for part in parts)
    smallest = int(current_app.config["PAYMENT_MINIMUM_MINOR"])
    portions: list[tuple[Statement, int]] = []
    for part in parts:
        if wanted <= 0:
            break
        amount = min(part.left, wanted)
        if part.left - amount < smallest:
            amount = part.left
        if amount < smallest and portions:
            break
        portions.append((part.statement, amount))
        wanted -= amount
    return portions


def _claim(charge: PlanCharge, now: datetime) -> bool:
    """Take the charge for one try; False when it is not waiting (done already, or another run has it)."""
    where = [PlanCharge.id == charge.id, PlanCharge.status.in_(WAITING_CHARGE_STATUSES)]
    claimed = db.session.execute(update(PlanCharge).where(*where).values(
        status="charging", attempts=PlanCharge.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def _reclaim(charge: PlanCharge, now: datetime) -> bool:
    """Take over a claim a stopped worker left, once."""
    claimed = db.session.execute(update(PlanCharge).where(
        PlanCharge.id == charge.id, PlanCharge.status == "charging",
        PlanCharge.claimed_at < now - STALE_CLAIM).values(claimed_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def charge(charge_id: int, *, now: datetime | None = None, report: RunReport | None = None,
           own_try: bool = False) -> str:
    """Make one try at a charge and record what happened; the charge's status afterwards.

    ``own_try`` is the patient's own (paying ahead, or a new card for a refused instalment): it may come before
    the charge's date, and a refusal leaves the charge as it was rather than using up a retry.
    """
    now = now or utcnow()
    report = report or RunReport()
    item = db.session.get(PlanCharge, charge_id)
    if item is None:
        return "missing"
    was = item.status
    if was == "charging":
        if not _reclaim(item, now):
            return item.status
        resume = True
        # Stopped between the claim and storing the try's payments: nothing was sent to Stripe yet.
        if not _payments(item, item.attempts) and not _start_try(item, now):
            _finish_plan(item.plan, now, report)
            db.session.commit()
            return item.status
    else:
        if not _claim(item, now):
            db.session.refresh(item)
            return item.status
        db.session.refresh(item)
        resume = False
        if not _start_try(item, now):
            _finish_plan(item.plan, now, report)
            db.session.commit()
            return item.status
    try:
        posted = _pay_all(item, resume=resume)
    except gateway.GatewayError:
        # Stripe could not be reached: the claim stays, and the next run after STALE_CLAIM finishes it.
        db.session.rollback()
        log.warning("plan charge %s: Stripe unavailable; the next run finishes it", item.id)
        return "charging"
    _settle(item, now, report, own_try=own_try, was=was)
    db.session.commit()
    queue_receipts(posted)
    return item.status


def _start_try(item: PlanCharge, now: datetime) -> bool:
    """Store the try's card payments before anything is charged; False when nothing is left to pay."""
    # One try of a plan at a time works out what is left (on PostgreSQL; SQLite has one writer anyway), and each
    # sees what the others are charging: two at once never take the same money.
    db.session.execute(select(PaymentPlan.id).where(PaymentPlan.id == item.plan_id).with_for_update())
    portions = _portions(item, now)
    if not portions:
        item.status = "skipped"
        item.next_attempt_on = None
        db.session.commit()
        return False
    plan = item.plan
    for statement, amount in portions:
        db.session.add(Payment(statement=statement, amount=amount, currency=plan.currency, status="pending",
                               method="card", attempt_key=f"plan-{item.public_id}-{item.attempts}-{statement.id}",
                               plan_charge_id=item.id, receipt_email=plan.email, locale=plan.locale,
                               card_brand=plan.card_brand, card_last4=plan.card_last4))
    db.session.commit()
    return True


def _pay_all(item: PlanCharge, *, resume: bool) -> list[Payment]:
    posted: list[Payment] = []
    for payment in _payments(item, item.attempts):
        if payment.status == "pending":
            posted.extend(_pay(item.plan, payment, resume=resume))
            db.session.commit()
    return posted


def _pay(plan: PaymentPlan, payment: Payment, *, resume: bool) -> list[Payment]:
    """Charge one payment on the saved card and post it through the same code as a webhook."""
    intent = None
    if payment.stripe_payment_intent_id:
        intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    elif resume:
        # The try was cut short: Stripe may have charged the card before we heard. Look before charging.
        intent = gateway.find_payment_intent("portal_payment", payment.public_id,
                                             int(as_utc(payment.created_at).timestamp()) - CLOCK_MARGIN)
    if intent is not None and intent.status == "requires_action":
        # The bank wants the patient to confirm, and they are not there: refused, as Stripe does off-session.
        payments.charge_refused(payment, "authentication_required", None)
        return []
    if intent is None:
        metadata = {"portal_payment": payment.public_id, "portal_plan": plan.public_id,
                    "statement": payment.statement.number, "account": plan.account.number}
        try:
            intent = gateway.charge_saved_card(amount=payment.amount, currency=payment.currency,
                                               customer=plan.account.stripe_customer_id or "",
                                               payment_method=plan.stripe_payment_method_id or "",
                                               metadata=metadata, idempotency_key=f"plan-payment-{payment.public_id}")
        except gateway.CardDeclined as declined:
            if declined.intent_id and payment.stripe_payment_intent_id is None:
                payment.stripe_payment_intent_id = declined.intent_id
            payments.charge_refused(payment, declined.code, declined.message)
            return []
        except (gateway.NotFound, gateway.Refused):
            # The saved card or Customer is gone at Stripe (deleted, or other keys), or Stripe will never take this
            # charge: as good as refused, so it is retried, then staff are told, rather than tried forever.
            payments.charge_refused(payment, "processing_error", None)
            return []
        payment.stripe_payment_intent_id = intent.id
        db.session.flush()
    return payments.apply_intent(intent).posted


def _settle(item: PlanCharge, now: datetime, report: RunReport, *, own_try: bool, was: str) -> None:
    attempt = _payments(item, item.attempts)
    if not attempt or any(p.status == "pending" for p in attempt):
        return  # Stripe is still processing: the webhook posts it, and the next run settles the charge.
    refused = [p for p in attempt if p.status == "failed"]
    plan = item.plan
    if not refused:
        item.status = "paid"
        item.paid_at = now
        item.failure_code = None
        item.next_attempt_on = None
        report.paid.append(item)
        _finish_plan(plan, now, report)
        return
    item.failure_code = refused[0].failure_code
    report.refused.append(item)
    if own_try:
        # The patient saw the refusal on the page; the schedule stands as it was.
        item.status = was
        return
    item.refusals += 1
    retries = retry_days()
    today = today_for(plan, now)
    if item.refusals <= len(retries):
        item.status = "failed"
        item.next_attempt_on = max(item.due_on + timedelta(days=retries[item.refusals - 1]),
                                   today + timedelta(days=1))
        item.notice_sent_for = item.next_attempt_on
        notify.refused(item, item.next_attempt_on)
        return
    item.status = "missed"
    item.next_attempt_on = None
    if item.kind == "autopay":
        notify.autopay_missed(item)
        return
    break_plan(plan, item, now)
    report.broken.append(plan)


def _finish_plan(plan: PaymentPlan, now: datetime, report: RunReport) -> None:
    """A plan with no instalment left to charge and nothing left to pay is completed."""
    if plan.status != "active" or any(c.status in ("scheduled", "failed", "charging") for c in plan.instalments):
        return
    if left_to_pay(plan, now).is_positive:
        return
    plan.status = "completed"
    plan.ended_at = now
    report.completed.append(plan)


def break_plan(plan: PaymentPlan, item: PlanCharge, now: datetime) -> None:
    """The last retry was refused: end the plan and put it in a named staff member's inbox."""
    end_plan(plan, "broken", now=now, reason=None, user_id=None, refuse_if_charging=False)
    plan.question_id = notify.broken(plan, item).id
