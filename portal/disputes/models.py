"""A patient's dispute of one line of a statement, and how the billing office resolved it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import BalanceAdjustment, LineItem, Statement, utcnow
from ..extensions import db
from ..questions.models import Question, _quoted

# What the patient says is wrong, as they choose it on the form.
REASONS = ("not_received", "charged_twice", "insurance_should_pay", "differs_from_estimate", "other")
# How the billing office resolved it.
CORRECTED, EXPLAINED, SENT_TO_INSURANCE = "corrected", "explained", "sent_to_insurance"
OUTCOMES = (CORRECTED, EXPLAINED, SENT_TO_INSURANCE)


class LineDispute(db.Model):
    """One dispute of one line. The patient's explanation and the conversation live in its question (topic
    "dispute"), which routing gives to a named staff member like any other."""

    __tablename__ = "line_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None once the billing system takes the line back (a cancelled visit, a corrected claim): the dispute and its
    # conversation stay, about the statement.
    line_item_id: Mapped[int | None] = mapped_column(ForeignKey("line_items.id"))
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set together when the billing office resolves it; None while it is open.
    outcome: Mapped[str | None] = mapped_column(String(32))
    # What the patient reads about the outcome, in the resolver's words.
    outcome_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The money taken off, for an outcome of "corrected".
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("balance_adjustments.id"), unique=True)

    line_item: Mapped[LineItem | None] = relationship()
    statement: Mapped[Statement] = relationship()
    question: Mapped[Question] = relationship()
    adjustment: Mapped[BalanceAdjustment | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"reason IN ({_quoted(REASONS)})", name="reason_known"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_quoted(OUTCOMES)})", name="outcome_known"),
        CheckConstraint("(outcome IS NULL) = (resolved_at IS NULL)", name="resolved_with_outcome"),
        CheckConstraint(f"adjustment_id IS NULL OR outcome = '{CORRECTED}'", name="adjusted_only_if_corrected"),
        # One open dispute per line: a second one would be a second conversation about the same thing.
        Index("uq_line_disputes_open_line", "line_item_id", unique=True,
              sqlite_where=text("outcome IS NULL"), postgresql_where=text("outcome IS NULL")),
    )

    @property
    def is_open(self) -> bool:
        return self.outcome is None
