"""Financial assistance applications, the proof sent with them, and the billing office's decisions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import Account, BalanceAdjustment, Statement, utcnow
from ..extensions import db
from ..money import Money
from ..payments.models import new_public_id
from ..questions.models import Question

PENDING, APPROVED, DENIED = "pending", "approved", "denied"
STATUSES = (PENDING, APPROVED, DENIED)
DOCUMENT_KINDS = ("pdf", "jpeg", "png")


class AssistanceApplication(db.Model):
    """One application, made from a statement. While it is pending, the account's collection is on hold."""

    __tablename__ = "assistance_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    # The conversation with the named staff member who decides it (topic "financial_assistance").
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), unique=True)
    applied_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    household_size: Mapped[int]
    # A year's household income before tax, in minor units of ``currency``.
    annual_income: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The preliminary screening as it was shown: the guideline used, the percentage, the policy's discount.
    guideline_year: Mapped[int]
    guideline: Mapped[int]
    poverty_percent: Mapped[int]
    preliminary_discount: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The discount taken off the statement, for an approved application that gave one.
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("balance_adjustments.id"), unique=True)

    account: Mapped[Account] = relationship()
    statement: Mapped[Statement] = relationship()
    question: Mapped[Question] = relationship()
    adjustment: Mapped[BalanceAdjustment | None] = relationship()
    documents: Mapped[list[AssistanceDocument]] = relationship(back_populates="application",
                                                              order_by="AssistanceDocument.id")

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'denied')", name="status_known"),
        CheckConstraint("household_size BETWEEN 1 AND 20", name="household_size_range"),
        CheckConstraint("annual_income >= 0 AND guideline > 0 AND poverty_percent >= 0", name="amounts_sane"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when_not_pending"),
        CheckConstraint("adjustment_id IS NULL OR status = 'approved'", name="discount_only_if_approved"),
        Index("ix_assistance_applications_open", "account_id", "status"),
        # One application being decided per account: two sent at once (a double click) leave one.
        Index("uq_assistance_applications_pending_account", "account_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    @property
    def income(self) -> Money:
        return Money(self.annual_income, self.currency)


class AssistanceDocument(db.Model):
    """A proof of income sent with an application: stored outside the web root under a random name, served only
    to billing staff."""

    __tablename__ = "assistance_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    application_id: Mapped[int] = mapped_column(ForeignKey("assistance_applications.id"), index=True)
    # The kind its content shows (not what its name or the browser claimed), and the file's name on our disk.
    kind: Mapped[str] = mapped_column(String(8))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    # The name the patient's file had, cleaned, for staff to recognise it.
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[AssistanceApplication] = relationship(back_populates="documents")

    __table_args__ = (
        CheckConstraint("kind IN ('pdf', 'jpeg', 'png')", name="kind_known"),
        CheckConstraint("size > 0", name="size_positive"),
    )
