"""Billing questions, their conversations and who answers them: the billing office's named staff."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..billing.models import Account, LineItem, Statement, as_utc, utcnow
from ..extensions import db
from ..payments.models import new_public_id

# "dispute" is not offered on the question form: a patient disputes a line from the line itself (portal.disputes).
TOPICS = ("charges", "insurance", "payment_plan", "financial_assistance", "refund", "other", "dispute")
WAITING_BILLING, WAITING_PATIENT, RESOLVED = "waiting_billing", "waiting_patient", "resolved"
STATUSES = (WAITING_BILLING, WAITING_PATIENT, RESOLVED)
CONTACT_METHODS = ("email", "phone")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class StaffProfile(db.Model):
    """A named member of the billing office, as patients see them and as routing weighs them."""

    __tablename__ = "staff_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Out of office from the first day through the last, both inclusive (on the hospital's calendar);
    # either may be open-ended.
    away_from: Mapped[date | None] = mapped_column(Date)
    away_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    capacity: Mapped[int] = mapped_column(default=20)

    user: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity_not_negative"),)

    @property
    def initials(self) -> str:
        parts = [part for part in self.display_name.replace("-", " ").split() if part[:1].isalpha()]
        return "".join(part[0] for part in (parts[:1] + parts[-1:] if len(parts) > 1 else parts)).upper()


class Question(db.Model):
    """A patient's question about a statement (or one line of it), and the staff member who answers it."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # In the question's web address: unguessable, so that ids cannot be walked.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    line_item_id: Mapped[int | None] = mapped_column(ForeignKey("line_items.id"))
    topic: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=WAITING_BILLING)
    # The language the patient wants answers in, and how they want to be reached.
    language: Mapped[str] = mapped_column(String(16))
    contact_method: Mapped[str] = mapped_column(String(10), default="email")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # The login that asked, or None for a quick-pay guest (who gave contact_email).
    asked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    needs_interpreter: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship()
    statement: Mapped[Statement] = relationship()
    line_item: Mapped[LineItem | None] = relationship()
    assigned_staff: Mapped[User | None] = relationship(foreign_keys=[assigned_staff_id])
    messages: Mapped[list[QuestionMessage]] = relationship(back_populates="question",
                                                           order_by="QuestionMessage.id")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="question", order_by="Assignment.id")

    __table_args__ = (
        CheckConstraint(f"topic IN ({_quoted(TOPICS)})", name="topic_known"),
        CheckConstraint(f"status IN ({_quoted(STATUSES)})", name="status_known"),
        CheckConstraint(f"contact_method IN ({_quoted(CONTACT_METHODS)})", name="contact_method_known"),
        Index("ix_questions_open_by_staff", "assigned_staff_id", "status"),
    )

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED

    def overdue(self, now: datetime) -> bool:
        """Waiting for the billing office past its due time."""
        return self.status == WAITING_BILLING and as_utc(self.due_at) < now


class QuestionMessage(db.Model):
    """One message in a question's conversation: the patient's, a staff reply, or an internal note."""

    __tablename__ = "question_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    author_kind: Mapped[str] = mapped_column(String(10))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    # An internal note is seen by staff only, never by the patient.
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    question: Mapped[Question] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("author_kind IN ('patient', 'staff')", name="author_kind_known"),
        CheckConstraint("NOT (internal AND author_kind = 'patient')", name="patients_write_no_notes"),
    )


class Assignment(db.Model):
    """Each time a question was given to someone, and why: routing's reasons or a person's words."""

    __tablename__ = "question_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Routing's reason codes and the facts a sentence needs (see questions.reasons), kept as data so the
    # sentence can be read in any language.
    reasons: Mapped[dict] = mapped_column(JSON)
    # Who reassigned it and why, in their words; None when routing chose.
    assigned_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    question: Mapped[Question] = relationship(back_populates="assignments")
    staff: Mapped[User] = relationship(foreign_keys=[staff_user_id])
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_user_id])
