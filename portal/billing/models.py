"""Billing tables: organisation, guarantor accounts, patients, statements, visits and line items.

All amounts are integer minor units in the statement's currency. Each line's insurance breakdown
lives on the line itself so that the database can check that its parts add up to its charge.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, time, timezone

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..money import Money


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime: SQLite gives back naive datetimes, stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    default_locale: Mapped[str] = mapped_column(String(16), default="en")
    # The billing office's hours in its own time zone: when questions are answered ("by the end of the next
    # business day"). Days are ISO weekday digits, Monday 1 to Sunday 7.
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    closes_at: Mapped[time] = mapped_column(Time, default=time(17, 0))
    business_days: Mapped[str] = mapped_column(String(7), default="12345")
    # Imported charges are gathered into one statement per guarantor per period ("monthly", "quarterly" or
    # "weekly", by the date of care), dated the period's last day and due this many days later.
    statement_period: Mapped[str] = mapped_column(String(16), default="monthly")
    payment_due_days: Mapped[int] = mapped_column(default=30)

    accounts: Mapped[list[Account]] = relationship(back_populates="organisation")

    __table_args__ = (
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        CheckConstraint("statement_period IN ('weekly', 'monthly', 'quarterly')", name="statement_period_known"),
        CheckConstraint("payment_due_days >= 0", name="payment_due_days_not_negative"),
    )


class Account(db.Model):
    """A guarantor account: the person responsible for paying."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    number: Mapped[str] = mapped_column(String(20))
    guarantor_name: Mapped[str] = mapped_column(String(200))
    mailing_address: Mapped[str] = mapped_column(Text)
    preferred_locale: Mapped[str] = mapped_column(String(16), default="en")
    # The guarantor as a Stripe Customer: card payments attach to it, and payment plans will reuse it.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Where an imported account came from ("fhir:Patient/<id>", "csv:<account number>"): found again on re-import.
    source_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="accounts")
    patients: Mapped[list[Patient]] = relationship(back_populates="account", order_by="Patient.id")
    statements: Mapped[list[Statement]] = relationship(back_populates="account")

    __table_args__ = (UniqueConstraint("organisation_id", "number"), UniqueConstraint("organisation_id", "source_key"))


class Patient(db.Model):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed as the leading column of the (account_id, mrn) unique constraint.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    mrn: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    # Where an imported patient came from, as for accounts; indexed for the importer's look-ups.
    source_key: Mapped[str | None] = mapped_column(String(255), index=True)

    account: Mapped[Account] = relationship(back_populates="patients")

    __table_args__ = (UniqueConstraint("account_id", "mrn"),)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Statement(db.Model):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Public: printed on the paper bill and typed in for quick pay; digits only.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    statement_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    # The first day of the billing period an imported statement gathers (its statement date is the last);
    # None for statements made otherwise.
    period_start: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[Account] = relationship(back_populates="statements")
    visits: Mapped[list[Visit]] = relationship(
        back_populates="statement", order_by="(Visit.visit_date, Visit.id)", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("due_date >= statement_date", name="due_after_statement"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        UniqueConstraint("account_id", "period_start", "statement_date"),
    )


class Visit(db.Model):
    """An encounter billed on a statement: one patient, one facility and department."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed with visit_date by ix_visits_statement_date below.
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    facility: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200))
    # The insurer billed for this visit; None means self-pay.
    payer: Mapped[str | None] = mapped_column(String(200))

    statement: Mapped[Statement] = relationship(back_populates="visits")
    patient: Mapped[Patient] = relationship()
    lines: Mapped[list[LineItem]] = relationship(
        back_populates="visit", order_by="(LineItem.position, LineItem.id)", cascade="all, delete-orphan")
    estimate: Mapped[GoodFaithEstimate | None] = relationship(back_populates="visit", cascade="all, delete-orphan")

    __table_args__ = (CheckConstraint("end_date IS NULL OR end_date >= visit_date", name="end_after_start"),)

    @property
    def self_pay(self) -> bool:
        return self.payer is None


# The patient owes what is left of the charge after insurance and adjustments.
# For an insured line that remainder is exactly deductible + copay + coinsurance + not covered.
_RECONCILES = (
    "(allowed IS NULL AND insurance_paid = 0 AND deductible = 0 AND copay = 0 AND coinsurance = 0"
    " AND not_covered = 0 AND adjustment <= charge)"
    " OR (allowed IS NOT NULL AND insurance_paid + adjustment + deductible + copay + coinsurance"
    " + not_covered = charge)"
)


class LineItem(db.Model):
    __tablename__ = "line_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    service_date: Mapped[date] = mapped_column(Date)
    # Short identifiers ("cpt", "hcpcs", "revenue", "snomed", "cvx"); the template names them.
    code_system: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(20))
    # The hospital's chargemaster description, as printed on the paper bill.
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(default=1)
    charge: Mapped[int]
    # Adjudication. allowed is NULL for a self-pay line, which then has no insurance amounts.
    allowed: Mapped[int | None]
    insurance_paid: Mapped[int] = mapped_column(default=0)
    # Contractual adjustment for insured lines; a self-pay discount for self-pay lines.
    adjustment: Mapped[int] = mapped_column(default=0)
    deductible: Mapped[int] = mapped_column(default=0)
    copay: Mapped[int] = mapped_column(default=0)
    coinsurance: Mapped[int] = mapped_column(default=0)
    not_covered: Mapped[int] = mapped_column(default=0)

    visit: Mapped[Visit] = relationship(back_populates="lines")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "charge >= 0 AND (allowed IS NULL OR allowed >= 0) AND insurance_paid >= 0 AND adjustment >= 0"
            " AND deductible >= 0 AND copay >= 0 AND coinsurance >= 0 AND not_covered >= 0",
            name="amounts_not_negative"),
        CheckConstraint(_RECONCILES, name="parts_add_up_to_charge"),
    )

    @property
    def insured(self) -> bool:
        return self.allowed is not None

    @property
    def patient_owes_minor(self) -> int:
        return self.charge - self.insurance_paid - self.adjustment

    def minor(self, field: str) -> int:
        """One amount of this line in minor units: a column, or ``"patient_owes"``; a missing allowed is 0."""
        value = self.patient_owes_minor if field == "patient_owes" else getattr(self, field)
        return value or 0

    def money(self, field: str) -> Money:
        """One amount of this line (``"charge"``, ``"copay"``…) as Money in the statement currency."""
        return Money(self.minor(field), self.visit.statement.currency)


class GoodFaithEstimate(db.Model):
    """What a self-pay patient was told a visit would cost before it (a good faith estimate, under the US No
    Surprises Act), imported per visit from the billing system (``flask import estimates``)."""

    __tablename__ = "good_faith_estimates"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    # Minor units of ``currency``, the statement's.
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    given_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="estimate")

    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


# Why the billing office took money off a statement in the portal.
ADJUSTMENT_REASONS = ("dispute_correction", "financial_assistance")


class BalanceAdjustment(db.Model):
    """Money the billing office takes off a statement in the portal (a disputed charge corrected, financial
    assistance granted), on top of what the hospital's billing system sent.

    Every balance counts it (``billing.services.balances_query``), and ``payments export`` sends it back for the
    billing system to post. Never edited: a mistake is put right by another record, not by changing this one.
    """

    __tablename__ = "balance_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The reference the billing system posts it under (in the export), unguessable like a payment's.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: secrets.token_urlsafe(16))
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    # The line it corrects, or None for the whole statement.
    line_item_id: Mapped[int | None] = mapped_column(ForeignKey("line_items.id"))
    # Minor units of ``currency`` (the statement's), taken off what the patient owes: always positive.
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
    # The staff member's own words, for colleagues and the billing system.
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    statement: Mapped[Statement] = relationship()
    line_item: Mapped[LineItem | None] = relationship()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        CheckConstraint("reason IN ('dispute_correction', 'financial_assistance')", name="reason_known"),
    )

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


Index("ix_visits_statement_date", Visit.statement_id, Visit.visit_date)
