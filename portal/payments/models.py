"""Payments against statements, their refunds, and the Stripe events that post them.

A payment's status moves only through ``TRANSITIONS``; Stripe is the record of the money, so a
success that Stripe reports is posted even after a failure was recorded for the same PaymentIntent.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import Statement, utcnow
from ..extensions import db
from ..money import Money

log = logging.getLogger("portal.payments")

PAYMENT_STATUSES = ("pending", "succeeded", "failed", "refunded", "partially_refunded")
# Statuses whose money reached the hospital; refunds are subtracted through amount_refunded.
SETTLED_STATUSES = ("succeeded", "refunded", "partially_refunded")

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed"}),
    # A PaymentIntent that Stripe reports as succeeded is money received, whatever we recorded before.
    "failed": frozenset({"succeeded"}),
    "succeeded": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"refunded"}),
    "refunded": frozenset(),
}


class InvalidTransition(RuntimeError):
    """Raised when a payment is asked to move to a status it cannot reach from where it is."""


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Payment(db.Model):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # In the payment's web address: unguessable, so that ids cannot be walked.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # "card" through Stripe; "external" for money taken by the billing office and imported.
    method: Mapped[str] = mapped_column(String(20), default="card")
    # The pay form's one-time token: a double click or a resent form finds this row instead of a new one.
    attempt_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # Why the card was refused, as Stripe's code (translated when shown) and Stripe's own words.
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    paid_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A payment-plan charge (an instalment or an autopay) made with the plan's saved card.
    plan_charge_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plan_charges.id"), index=True)
    # Where the receipt goes and in which language it is written.
    receipt_email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    receipt_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disputed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispute_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    statement: Mapped[Statement] = relationship()
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.created_at")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount", name="refund_within_amount"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')",
                        name="status_known"),
        CheckConstraint("method IN ('card', 'external')", name="method_known"),
    )

    @property
    def received(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def refunded(self) -> Money:
        return Money(self.amount_refunded, self.currency)

    @property
    def refundable(self) -> Money:
        return Money(self.amount - self.amount_refunded, self.currency)

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_STATUSES

    def move_to(self, status: str) -> bool:
        """Move to ``status``; a repeat is a logged no-op (False), an impossible move raises."""
        if status == self.status:
            log.info("payment %s is already %s", self.id, status)
            return False
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"payment {self.id} cannot go from {self.status} to {status}")
        self.status = status
        return True


class Refund(db.Model):
    """Money given back on a payment, once per Stripe refund however often we hear of it."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    # The staff refund form's one-time token: the same form sent twice refunds once.
    attempt_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    # Who asked for it in the portal; None when it was made at Stripe's dashboard and reached us by event.
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.payment.currency)


class StripeEvent(db.Model):
    """One Stripe event, stored once in the transaction that applies it."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    # The PaymentIntent, charge or dispute the event is about.
    object_id: Mapped[str | None] = mapped_column(String(255))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    # Set when the event could not be matched or applied: billing staff look at these.
    review_reason: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    payment: Mapped[Payment | None] = relationship()
