"""Payment use cases: choose an amount, start and confirm a card payment, post what Stripe reports,
refund, repair missed webhooks and export the day's money. Services add and flush; callers commit.

Posting is the one place where money changes: ``post_success`` and ``sync_refunds`` run with the
statement and payment rows locked, and every path (webhook, return page, reconcile, staff refund)
goes through them, so a payment or refund is counted once whoever hears of it first.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..billing.models import Account, BalanceAdjustment, Statement, as_utc, utcnow
from ..billing.services import StatementSummary, summary_for
from ..extensions import db
from ..money import AmountError, Money, parse_amount
from . import stripe_gateway as gateway
from .models import SETTLED_STATUSES, Payment, Refund, StripeEvent

log = logging.getLogger("portal.payments")


class PaymentRefused(ValueError):
    """The amount or the request cannot be paid; ``reason`` names why, ``values`` fill the message."""

    def __init__(self, reason: str, **values: Money) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


# ---------------------------------------------------------------------------------------------- amounts

@dataclass(frozen=True)
class Limits:
    minimum: Money
    maximum: Money


def payment_limits(summary: StatementSummary, minimum_minor: int) -> Limits:
    """The least and most a patient can pay now: a balance below the minimum can still be paid in full."""
    due = summary.amount_due
    return Limits(Money(min(minimum_minor, due.minor), due.currency) if due.is_positive else due, due)


def choose_amount(summary: StatementSummary, *, pay_full: bool, text: str, locale: str,
                  minimum_minor: int) -> Money:
    """Check the amount a patient chose, in the statement's currency; raise PaymentRefused if it can't be paid."""
    if not summary.amount_due.is_positive:
        raise PaymentRefused("already_paid")
    limits = payment_limits(summary, minimum_minor)
    if pay_full:
        return limits.maximum
    if not text.strip():
        raise PaymentRefused("empty")
    try:
        amount = parse_amount(text, summary.statement.currency, locale)
    except AmountError as error:
        raise amount_refusal(error, summary.statement.currency) from None
    if amount < limits.minimum:
        raise PaymentRefused("below_minimum", minimum=limits.minimum)
    if amount > limits.maximum:
        raise PaymentRefused("above_due", maximum=limits.maximum)
    return amount


def amount_refusal(error: AmountError, currency: str) -> PaymentRefused:
    """The refusal for an amount that could not be read, with an example of one that can."""
    return PaymentRefused(error.reason, example=Money(2550, currency))


# --------------------------------------------------------------------------------------------- starting

def payment_by_public_id(public_id: str) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.public_id == public_id[:32]))


def payment_by_attempt(attempt_key: str) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.attempt_key == attempt_key))


def start_payment(statement: Statement, amount: Money, *, attempt_key: str, user_id: int | None,
                  receipt_email: str | None, locale: str) -> Payment:
    """Record a pending card payment; the same form sent twice (same ``attempt_key``) gives the same row."""
    existing = payment_by_attempt(attempt_key)
    if existing is not None:
        return existing
    payment = Payment(statement=statement, amount=amount.minor, currency=amount.currency, status="pending",
                      method="card", attempt_key=attempt_key, paid_by_user_id=user_id,
                      receipt_email=receipt_email or None, locale=locale)
    db.session.add(payment)
    db.session.flush()
    return payment


def _locked(payment: Payment) -> Payment:
    """Lock the payment's statement, then the payment, always in that order so that posters queue up;
    return the payment as it is now that no one else can change it."""
    db.session.execute(select(Statement.id).where(Statement.id == payment.statement_id).with_for_update())
    return db.session.scalars(select(Payment).where(Payment.id == payment.id)
                              .with_for_update().execution_options(populate_existing=True)).one()


def customer_for(account_id: int, *, renew: bool = False) -> str:
    """The account's Stripe Customer, made on first use; ``renew`` replaces one Stripe no longer knows."""
    account = db.session.scalars(select(Account).where(Account.id == account_id).with_for_update()
                                 .execution_options(populate_existing=True)).one()
    if renew or not account.stripe_customer_id:
        # The account row is locked, so one request makes the Customer; the key covers the SDK's own retries.
        account.stripe_customer_id = gateway.ensure_customer(
            account.guarantor_name, account.number,
            idempotency_key=f"customer-{account.organisation_id}-{account.number}-{secrets.token_hex(8)}")
    return account.stripe_customer_id


def _metadata(payment: Payment) -> dict[str, str]:
    return {"portal_payment": payment.public_id, "statement": payment.statement.number,
            "account": payment.statement.account.number}


def prepare_card_payment(payment: Payment) -> Payment:
    """Create the payment's Stripe Customer and PaymentIntent if not done yet. Raises GatewayError."""
    payment = _locked(payment)
    if payment.stripe_payment_intent_id is None:
        customer = customer_for(payment.statement.account_id)
        try:
            intent = _create_intent(payment, customer)
        except gateway.NotFound:
            # Deleted at Stripe, or made with other keys (test keys before live ones): make a new Customer.
            log.info("account %s: Stripe does not know its Customer; making a new one", payment.statement.account_id)
            intent = _create_intent(payment, customer_for(payment.statement.account_id, renew=True))
        payment.stripe_payment_intent_id = intent.id
    return payment


def _create_intent(payment: Payment, customer: str) -> gateway.IntentResult:
    return gateway.create_payment_intent(amount=payment.amount, currency=payment.currency, customer=customer,
                                         metadata=_metadata(payment),
                                         idempotency_key=f"payment-{payment.public_id}-{customer}")


def card_form_secret(payment: Payment) -> str:
    """A fresh SetupIntent for one try at the card form; returns the client secret for Stripe.js."""
    _id, secret = gateway.create_setup_intent(customer=payment.statement.account.stripe_customer_id,
                                              metadata={"portal_payment": payment.public_id})
    return secret


@dataclass(frozen=True)
class ConfirmOutcome:
    """``processing`` (Stripe is charging), ``authenticate`` (3-D Secure first) or ``failed``."""

    kind: str
    client_secret: str | None = None


def card_set_up(setup_intent_id: str, ours: tuple[str, str], customer: str | None) -> gateway.SetupResult | None:
    """The SetupIntent the browser says it confirmed, read back from Stripe (never trusted from the browser):
    None unless it succeeded with a card, for our object (``ours``: the metadata key and value it was made with),
    on the account's Customer. Raises GatewayError when Stripe cannot be reached."""
    try:
        setup = gateway.retrieve_setup_intent(setup_intent_id)
    except gateway.NotFound:
        return None
    key, value = ours
    if (setup.status != "succeeded" or setup.payment_method is None or setup.metadata.get(key) != value
            or customer is None or setup.customer != customer):
        return None
    return setup


def confirm_card(payment: Payment, setup_intent_id: str) -> ConfirmOutcome:
    """Charge the card that the browser set up with Stripe.js. Raises PaymentRefused or GatewayError.

    The SetupIntent is read back from Stripe, never trusted from the browser: it must have succeeded
    for this payment and this account's Customer.
    """
    payment = _locked(payment)
    if payment.status != "pending" or payment.stripe_payment_intent_id is None:
        raise PaymentRefused("not_pending")
    setup = card_set_up(setup_intent_id, ("portal_payment", payment.public_id),
                        payment.statement.account.stripe_customer_id)
    if setup is None:
        raise PaymentRefused("card_not_set_up")
    payment.card_brand, payment.card_last4 = setup.card_brand, setup.card_last4
    try:
        intent = gateway.confirm_payment_intent(payment.stripe_payment_intent_id, setup.payment_method,
                                                idempotency_key=f"confirm-{payment.public_id}-{setup.id}")
    except gateway.CardDeclined as declined:
        _fail(payment, declined.code, declined.message)
        return ConfirmOutcome("failed")
    if intent.status == "requires_action":
        return ConfirmOutcome("authenticate", intent.client_secret)
    if intent.status == "requires_payment_method":
        _fail(payment, intent.error_code or "card_declined", intent.error_message)
        return ConfirmOutcome("failed")
    return ConfirmOutcome("processing")


def _fail(payment: Payment, code: str | None, message: str | None) -> None:
    """Record why a pending payment failed and make sure its PaymentIntent can never be charged later."""
    if payment.status != "pending":
        return
    payment.move_to("failed")
    payment.failure_code = (code or "card_declined")[:64]
    payment.failure_message = (message or "")[:500] or None
    if payment.stripe_payment_intent_id:
        try:
            gateway.cancel_payment_intent(payment.stripe_payment_intent_id)
        except gateway.GatewayError:
            # Already canceled or unreachable: a failed PaymentIntent cannot succeed without a new card.
            log.info("payment %s: PaymentIntent not canceled", payment.id)


def charge_refused(payment: Payment, code: str | None, message: str | None) -> None:
    """Record that the card refused a charge made without the patient there (a payment plan's)."""
    _fail(_locked(payment), code, message)


# ------------------------------------------------------------------------------------------------ posting

@dataclass
class Applied:
    """What applying a Stripe report did: the payment it concerned, the payments it posted (to send receipts
    for), and why staff should look, if they should."""

    payment: Payment | None = None
    posted: list[Payment] = field(default_factory=list)
    review: str | None = None


def post_success(payment: Payment, *, amount: int, currency: str, charge_id: str | None,
                 paid_at: datetime | None) -> Applied:
    """Post a payment Stripe reports as succeeded, once. The payment must be locked (``_locked``).

    ``paid_at`` is when Stripe charged the card, so that a payment posted late (by reconcile) still shows
    the moment the patient paid; without it, now.
    """
    if payment.settled:
        return Applied(payment)
    if amount != payment.amount or currency.upper() != payment.currency:
        return Applied(payment, review=f"Stripe reports {amount} {currency.upper()}, the portal expected "
                              f"{payment.amount} {payment.currency}")
    was = payment.status
    payment.move_to("succeeded")
    if was == "failed":
        log.warning("payment %s: Stripe reports success after a recorded failure; posted", payment.id)
    # Never before the patient started paying, nor in the future, whatever a clock elsewhere says.
    now = utcnow()
    # (Stripe's times are whole seconds.)
    started = as_utc(payment.created_at).replace(microsecond=0)
    payment.succeeded_at = min(max(paid_at, started), now) if paid_at else now
    payment.stripe_charge_id = charge_id or payment.stripe_charge_id
    if payment.card_last4 is None and payment.stripe_payment_intent_id:
        try:
            payment.card_brand, payment.card_last4 = gateway.card_of_payment_intent(payment.stripe_payment_intent_id)
        except gateway.GatewayError:
            log.info("payment %s: card details not available", payment.id)
    return Applied(payment, posted=[payment])


def sync_refunds(payment: Payment, refunds: Iterable[gateway.RefundResult], *, reason: str | None = None,
                 user_id: int | None = None, attempt_key: str | None = None) -> bool:
    """Store each succeeded refund once (by Stripe id) and bring the payment's totals and status in line."""
    # Read from the database under the lock, not from a collection this session may have loaded earlier.
    known = set(db.session.scalars(select(Refund.stripe_refund_id).where(Refund.payment_id == payment.id)))
    changed = False
    for refund in refunds:
        if refund.id in known or refund.status not in ("succeeded", "pending"):
            continue
        db.session.add(Refund(payment=payment, stripe_refund_id=refund.id, amount=refund.amount,
                              reason=reason, created_by_user_id=user_id, attempt_key=attempt_key))
        known.add(refund.id)
        changed = True
    db.session.flush()
    total = db.session.scalar(select(func.coalesce(func.sum(Refund.amount), 0))
                              .where(Refund.payment_id == payment.id))
    if total != payment.amount_refunded:
        payment.amount_refunded = total
        payment.move_to("refunded" if total >= payment.amount else "partially_refunded")
        changed = True
    return changed


def _payment_for_intent(intent_id: str | None, metadata: dict[str, Any]) -> Payment | None:
    """Find the payment of a PaymentIntent: by its id, or by our id in its metadata (if its id was never stored)."""
    if intent_id:
        payment = db.session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
        if payment is not None:
            return payment
    public_id = (metadata or {}).get("portal_payment")
    if public_id:
        payment = payment_by_public_id(str(public_id))
        if payment is not None and payment.stripe_payment_intent_id in (None, intent_id):
            payment.stripe_payment_intent_id = intent_id
            return payment
    return None


def _moment(unix_time: int | None) -> datetime | None:
    # Stripe sends seconds since the epoch; anything else in a (signed) event is taken as not sent.
    if not isinstance(unix_time, int) or isinstance(unix_time, bool) or unix_time <= 0:
        return None
    try:
        return datetime.fromtimestamp(unix_time, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def apply_intent(intent: gateway.IntentResult, *, reported_at: datetime | None = None) -> Applied:
    """Apply a PaymentIntent as Stripe reports it (from an event, the payment page or reconcile).

    ``reported_at`` is when Stripe reported it (the event's time), for when the charge's own time is not sent.
    """
    payment = _payment_for_intent(intent.id, intent.metadata)
    if payment is None:
        return Applied(review=f"no portal payment for PaymentIntent {intent.id}")
    payment = _locked(payment)
    if intent.status == "succeeded":
        return post_success(payment, amount=intent.amount, currency=intent.currency, charge_id=intent.charge_id,
                            paid_at=_moment(intent.paid_at) or reported_at)
    if intent.status == "canceled" or (intent.status == "requires_payment_method" and intent.error_code):
        _fail(payment, intent.error_code or "payment_failed", intent.error_message)
    return Applied(payment)


def apply_charge_refunded(charge: dict[str, Any]) -> Applied:
    """Post the refunds of a charge; a charge refunded before we heard it succeeded is posted first."""
    intent_id = charge.get("payment_intent")
    payment = _payment_for_intent(intent_id, charge.get("metadata") or {})
    if payment is None and charge.get("id"):
        payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == charge["id"]))
    if payment is None:
        return Applied(review=f"no portal payment for refunded charge {charge.get('id')}")
    payment = _locked(payment)
    applied = Applied(payment)
    if not payment.settled:
        if charge.get("status") != "succeeded" or not charge.get("paid", True):
            return Applied(payment, review=f"charge {charge.get('id')} refunded but never paid")
        applied = post_success(payment, amount=int(charge["amount"]), currency=charge["currency"],
                               charge_id=charge.get("id"), paid_at=_moment(charge.get("created")))
        if applied.review:
            return applied
    listed = charge.get("refunds") or {}
    if listed.get("data") is not None and not listed.get("has_more") and \
            sum(int(r["amount"]) for r in listed["data"]) == int(charge.get("amount_refunded") or 0):
        refunds = [gateway.RefundResult(id=r["id"], amount=int(r["amount"]), status=r.get("status") or "succeeded",
                                        charge_id=charge.get("id")) for r in listed["data"]]
    else:
        # Recent API versions leave the refunds out of the event: ask Stripe for the whole list.
        refunds = gateway.list_refunds(charge["id"])
    sync_refunds(payment, refunds)
    return applied


def apply_dispute(dispute: dict[str, Any]) -> Applied:
    """Flag the disputed payment (and so its statement) for billing staff."""
    payment = None
    if dispute.get("payment_intent"):
        payment = _payment_for_intent(dispute["payment_intent"], {})
    if payment is None and dispute.get("charge"):
        payment = db.session.scalar(select(Payment).where(Payment.stripe_charge_id == dispute["charge"]))
    if payment is None:
        return Applied(review=f"dispute {dispute.get('id')} on a charge the portal does not know")
    payment = _locked(payment)
    if payment.disputed_at is None:
        payment.disputed_at = utcnow()
        payment.dispute_reason = str(dispute.get("reason") or "general")[:64]
    return Applied(payment)


def _object_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("id")
    return str(value)[:255] if value else None


# The fields of Stripe's objects that applying an event reads, with the types Stripe's API documents. A signed
# event with another type in one of them (a future API version, a hand-made test event) is stored for review
# and not applied, so that nothing is half-applied and Stripe is not told to resend it forever.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "payment_intent": str, "charge": str, "currency": str, "status": str, "reason": str,
    "client_secret": str, "decline_code": str, "code": str, "message": str, "amount": int, "amount_refunded": int,
    "created": int, "paid": bool, "has_more": bool, "metadata": dict, "last_payment_error": dict, "refunds": dict,
    "latest_charge": (str, dict)}
# What each applied event type cannot do without.
_REQUIRED_FIELDS = {"charge.refunded": ("id", "amount", "currency")}


def _fits(value: Any, name: str) -> bool:
    kinds = _FIELD_TYPES[name]
    # A JSON true is a Python int too: only "paid" and "has_more" may be booleans.
    return value is None or (isinstance(value, kinds) and (kinds is bool or not isinstance(value, bool)))


def _in_stripes_shape(obj: dict[str, Any], kind: str) -> bool:
    """Whether every field that applying ``obj`` reads (its refunds' and expanded charge's too) has the type
    Stripe documents."""
    if any(obj.get(name) is None for name in _REQUIRED_FIELDS.get(kind, ())):
        return False
    refunds, charge = obj.get("refunds"), obj.get("latest_charge")
    listed = refunds.get("data") if isinstance(refunds, dict) else None
    if listed is not None and not (isinstance(listed, list) and all(
            isinstance(r, dict) and r.get("id") is not None and r.get("amount") is not None for r in listed)):
        return False
    if isinstance(charge, dict) and charge.get("id") is None:
        return False
    parts = [obj, obj.get("last_payment_error"), refunds, charge, *(listed or [])]
    return all(_fits(part.get(name), name) for part in parts if isinstance(part, dict) for name in _FIELD_TYPES)


def event_received(event_id: str) -> bool:
    return db.session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == event_id[:255])) is not None


def record_event(event: dict[str, Any]) -> tuple[StripeEvent, Applied]:
    """Store a verified event and apply it in the caller's transaction.

    The event row goes in first: its unique id makes a second delivery of the same event fail at the
    insert (IntegrityError), before anything is applied, even when both arrive at the same moment.
    """
    # An event whose data is not in Stripe's shape is stored for review, never a 500 that Stripe would resend.
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    row = StripeEvent(event_id=str(event["id"])[:255], type=str(event.get("type"))[:100], object_id=_object_id(obj))
    db.session.add(row)
    db.session.flush()
    kind = row.type
    applies = kind in ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
                       "charge.dispute.created")
    if applies and not _in_stripes_shape(obj, kind):
        applied = Applied(review="the event's object is not in the shape Stripe documents; not applied")
    elif kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        applied = apply_intent(gateway.read_intent(obj), reported_at=_moment(event.get("created")))
    elif kind == "charge.refunded":
        applied = apply_charge_refunded(obj)
    elif kind == "charge.dispute.created":
        applied = apply_dispute(obj)
    else:
        applied = Applied()
    row.payment_id = applied.payment.id if applied.payment else None
    row.review_reason = applied.review[:200] if applied.review else None
    row.processed_at = utcnow()
    return row, applied


def refresh_pending(payment: Payment, grace_seconds: int) -> Applied:
    """Ask Stripe about a payment still pending here, for the page the patient is waiting on.

    A failure is recorded at once, so that the patient sees why. A success is left to the webhook for
    ``grace_seconds`` after the payment started, then posted from Stripe's own answer, so that a late
    or lost webhook never leaves a patient looking at "processing".
    """
    if payment.status != "pending" or payment.stripe_payment_intent_id is None:
        return Applied()
    intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
    if intent.status == "succeeded" and utcnow() - as_utc(payment.created_at) < timedelta(seconds=grace_seconds):
        return Applied()
    if intent.status in ("requires_action", "requires_confirmation", "processing"):
        return Applied()
    return apply_intent(intent)


# ------------------------------------------------------------------------------------------------ refunds

def refund_payment(payment: Payment, amount: Money, *, reason: str, user_id: int, attempt_key: str) -> bool:
    """Refund ``amount`` of a posted card payment at Stripe and post it; False if it was already done.

    The form's one-time ``attempt_key`` is the idempotency key, so a resent form refunds once.
    """
    payment = _locked(payment)
    if db.session.scalar(select(Refund.id).where(Refund.attempt_key == attempt_key)) is not None:
        return False
    if not payment.settled or payment.method != "card" or not payment.stripe_payment_intent_id:
        raise PaymentRefused("not_refundable")
    if amount.currency != payment.currency or not amount.is_positive:
        raise PaymentRefused("not_positive")
    if amount > payment.refundable:
        raise PaymentRefused("above_refundable", maximum=payment.refundable)
    refund = gateway.create_refund(payment_intent_id=payment.stripe_payment_intent_id, amount=amount.minor,
                                   metadata={"portal_payment": payment.public_id},
                                   idempotency_key=f"refund-{payment.public_id}-{attempt_key}")
    return sync_refunds(payment, [refund], reason=reason, user_id=user_id, attempt_key=attempt_key)


# -------------------------------------------------------------------------------------------- reconcile

@dataclass
class ReconcileReport:
    checked: int = 0
    posted: list[Payment] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def reconcile(since: datetime) -> ReconcileReport:
    """Post every succeeded PaymentIntent since ``since`` that a lost webhook left unposted (safe to repeat)."""
    report = ReconcileReport()
    for intent in gateway.list_payment_intents(int(since.timestamp())):
        if "portal_payment" not in intent.metadata:
            continue  # not one of ours: the same Stripe account may serve other systems
        report.checked += 1
        if intent.status != "succeeded":
            continue
        applied = apply_intent(intent)
        if applied.review:
            report.unknown.append(f"{intent.id}: {applied.review}")
        report.posted.extend(applied.posted)
    return report


def unsent_receipts() -> list[Payment]:
    """Posted payments whose receipt has not gone out yet (a crash between posting and mailing)."""
    return list(db.session.scalars(select(Payment).where(Payment.status.in_(SETTLED_STATUSES),
                                                         Payment.receipt_email.is_not(None),
                                                         Payment.receipt_sent_at.is_(None))))


# ---------------------------------------------------------------------------------------------- history

def payments_for_statements(statement_ids: Iterable[int]) -> list[Payment]:
    """Posted and failed card payments of these statements, newest first (pending tries are not history)."""
    ids = list(statement_ids)
    if not ids:
        return []
    return list(db.session.scalars(
        select(Payment).where(Payment.statement_id.in_(ids), Payment.status != "pending")
        .order_by(Payment.created_at.desc(), Payment.id.desc())))


def payments_for_accounts(account_ids: Iterable[int]) -> list[Payment]:
    ids = list(account_ids)
    if not ids:
        return []
    statement_ids = db.session.scalars(select(Statement.id).where(Statement.account_id.in_(ids))).all()
    return payments_for_statements(statement_ids)


def receipt_balance(payment: Payment) -> Money:
    """What is left to pay on the payment's statement now."""
    return summary_for(payment.statement).amount_due


def needs_review() -> tuple[list[StripeEvent], list[Payment]]:
    """Stripe events staff have not looked at yet, and disputed payments."""
    events = db.session.scalars(select(StripeEvent).where(StripeEvent.review_reason.is_not(None),
                                                          StripeEvent.reviewed_at.is_(None))
                                .order_by(StripeEvent.received_at.desc())).all()
    disputed = db.session.scalars(select(Payment).where(Payment.disputed_at.is_not(None))
                                  .order_by(Payment.disputed_at.desc())).all()
    return list(events), list(disputed)


# ----------------------------------------------------------------------------------------------- export

@dataclass(frozen=True)
class ExportRow:
    kind: str  # "payment", "refund" or "adjustment" (money the billing office took off in the portal)
    statement: str
    account: str
    amount: Money
    at: datetime
    stripe_id: str
    payment_reference: str


def day_bounds(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of ``day`` on the hospital's calendar."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def export_rows(day: date, time_zone: str) -> list[ExportRow]:
    """Card payments posted, refunds made and adjustments taken off by the billing office on ``day`` (the
    hospital's calendar), in time order.

    Payments the billing office took itself ("external") came from its own system and are left out,
    so that exporting them back could never post them twice.
    """
    start, end = day_bounds(day, time_zone)
    zone = ZoneInfo(time_zone)
    rows: list[ExportRow] = []
    payments = db.session.scalars(select(Payment).where(Payment.method == "card",
                                                        Payment.status.in_(SETTLED_STATUSES),
                                                        Payment.succeeded_at >= start, Payment.succeeded_at < end))
    for payment in payments:
        rows.append(ExportRow("payment", payment.statement.number, payment.statement.account.number,
                              payment.received, as_utc(payment.succeeded_at).astimezone(zone),
                              payment.stripe_payment_intent_id or "", payment.public_id))
    refunds = db.session.scalars(select(Refund).where(Refund.created_at >= start, Refund.created_at < end))
    for refund in refunds:
        payment = refund.payment
        rows.append(ExportRow("refund", payment.statement.number, payment.statement.account.number,
                              -refund.money, as_utc(refund.created_at).astimezone(zone), refund.stripe_refund_id,
                              payment.public_id))
    adjustments = db.session.scalars(select(BalanceAdjustment).where(BalanceAdjustment.created_at >= start,
                                                                     BalanceAdjustment.created_at < end)
                                     .options(joinedload(BalanceAdjustment.statement)
                                              .joinedload(Statement.account)))
    for adjustment in adjustments:
        statement = adjustment.statement
        rows.append(ExportRow("adjustment", statement.number, statement.account.number, adjustment.money,
                              as_utc(adjustment.created_at).astimezone(zone), "", adjustment.public_id))
    rows.sort(key=lambda row: (row.at, row.kind, row.stripe_id))
    return rows
