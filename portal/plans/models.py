"""Payment plans, the statements each covers and the charges it makes on the saved card.

A charge is an instalment of the plan's schedule or an autopay of a later statement. Its card payments are
ordinary ``Payment`` rows (``plan_charge_id`` set), posted by the same code as any payment, one per statement
the charge pays towards.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import Account, Statement, utcnow
from ..extensions import db
from ..money import Money
from ..payments.models import Payment

# awaiting_card: agreed, no card saved yet; active: charging; completed: all paid; broken: an instalment
# could not be charged after every retry (billing staff follow up); cancelled: by the patient or staff.
PLAN_STATUSES = ("awaiting_card", "active", "completed", "broken", "cancelled")
OPEN_PLAN_STATUSES = ("awaiting_card", "active")

# scheduled: waiting for its date; charging: being charged now; failed: refused, to be tried again on
# next_attempt_on; paid; missed: refused on the last try; skipped: nothing was left to pay by its date;
# cancelled: the plan ended first; replaced: the schedule was recomputed (a statement was added).
CHARGE_STATUSES = ("scheduled", "charging", "failed", "paid", "missed", "skipped", "cancelled", "replaced")
WAITING_CHARGE_STATUSES = ("scheduled", "failed")
CHARGE_KINDS = ("instalment", "autopay")


def _public_id() -> str:
    return secrets.token_urlsafe(16)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class PaymentPlan(db.Model):
    __tablename__ = "payment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="awaiting_card")
    currency: Mapped[str] = mapped_column(String(3))
    day_of_month: Mapped[int]
    # Where notices and receipts go, in which language.
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # The saved card: Stripe's PaymentMethod id and what the patient is shown of it, never the card itself.
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # Autopay: later statements up to this amount are charged on their due date; None is off.
    autopay_cap: Mapped[int | None]
    autopay_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who cancelled it (None: the patient, or the portal when it broke) and why, in their words.
    ended_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    end_reason: Mapped[str | None] = mapped_column(Text)
    # The question that put a broken plan in a billing staff member's inbox.
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))

    account: Mapped[Account] = relationship()
    covered: Mapped[list[PlanStatement]] = relationship(back_populates="plan", order_by="PlanStatement.id")
    charges: Mapped[list[PlanCharge]] = relationship(back_populates="plan",
                                                     order_by="(PlanCharge.due_on, PlanCharge.id)")

    __table_args__ = (
        CheckConstraint(f"status IN ({_quoted(PLAN_STATUSES)})", name="status_known"),
        CheckConstraint("day_of_month BETWEEN 1 AND 28", name="day_of_month_in_every_month"),
        CheckConstraint("autopay_cap IS NULL OR autopay_cap > 0", name="autopay_cap_positive"),
        # One plan being set up or running per account: two set up at once (a double click) leave one.
        Index("uq_payment_plans_open_account", "account_id", unique=True,
              sqlite_where=text(f"status IN ({_quoted(OPEN_PLAN_STATUSES)})"),
              postgresql_where=text(f"status IN ({_quoted(OPEN_PLAN_STATUSES)})")),
    )

    @property
    def has_card(self) -> bool:
        return self.stripe_payment_method_id is not None

    @property
    def instalments(self) -> list[PlanCharge]:
        """The schedule as it stands: instalments not replaced by a recomputed schedule."""
        return [c for c in self.charges if c.kind == "instalment" and c.status != "replaced"]


class PlanStatement(db.Model):
    """A statement in a plan, with the amount the plan took on when it was added."""

    __tablename__ = "payment_plan_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    amount: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    plan: Mapped[PaymentPlan] = relationship(back_populates="covered")
    statement: Mapped[Statement] = relationship()

    __table_args__ = (UniqueConstraint("plan_id", "statement_id", name="uq_payment_plan_statements_plan_statement"),
                      CheckConstraint("amount > 0", name="amount_positive"))

    @property
    def money(self) -> Money:
        return Money(self.amount, self.plan.currency)


class PlanCharge(db.Model):
    __tablename__ = "payment_plan_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="instalment")
    # For autopay: the statement it pays.
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # The day it is (next) charged on, on the hospital's calendar: its due date, then each retry's.
    next_attempt_on: Mapped[date | None] = mapped_column(Date, index=True)
    # Every try (for the payments' one-time keys), and the scheduled tries the card refused (for retries: a
    # patient's own try, paying ahead or with a new card, does not use one up).
    attempts: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[int] = mapped_column(default=0)
    # The charge date a notice was sent for, so that each date is announced once.
    notice_sent_for: Mapped[date | None] = mapped_column(Date)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    plan: Mapped[PaymentPlan] = relationship(back_populates="charges")
    statement: Mapped[Statement | None] = relationship()
    payments: Mapped[list[Payment]] = relationship(primaryjoin="PlanCharge.id == foreign(Payment.plan_charge_id)",
                                                   order_by="Payment.id", viewonly=True)

    __table_args__ = (
        CheckConstraint(f"status IN ({_quoted(CHARGE_STATUSES)})", name="status_known"),
        CheckConstraint(f"kind IN ({_quoted(CHARGE_KINDS)})", name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("attempts >= 0 AND refusals >= 0", name="attempts_not_negative"),
        # One autopay per statement, however many runs schedule it at once.
        Index("uq_payment_plan_charges_autopay_statement", "plan_id", "statement_id", unique=True,
              sqlite_where=text("kind = 'autopay'"), postgresql_where=text("kind = 'autopay'")),
    )

    @property
    def money(self) -> Money:
        return Money(self.amount, self.plan.currency)

    @property
    def waiting(self) -> bool:
        return self.status in WAITING_CHARGE_STATUSES
