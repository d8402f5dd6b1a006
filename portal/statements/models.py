"""Itemised bills asked for: a record of each request, kept for the billing office."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..billing.models import Statement, as_utc, utcnow
from ..extensions import db

# Who asked: the patient signed in, a quick-pay guest (no login), or billing staff printing it for a patient.
REQUESTERS = ("patient", "guest", "staff")


class ItemisedBillRequest(db.Model):
    """One "Request an itemised bill": who asked for which statement, when, and in which language.

    Hospitals must give an itemised bill when asked and may be asked to show that they did, so each request is
    kept even though the PDF itself is printed at once and not stored."""

    __tablename__ = "itemised_bill_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(16))
    # The login that asked; None for a guest.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    statement: Mapped[Statement] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("requested_by IN (" + ", ".join(f"'{who}'" for who in REQUESTERS) + ")",
                        name="requested_by_known"),
    )

    @property
    def requested_at(self) -> datetime:
        return as_utc(self.created_at)
