"""Billing staff as the people who answer questions (the questions themselves come later)."""
from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..extensions import db

TOPICS = ("charges", "insurance", "payment_plan", "financial_assistance", "refund", "other")


class StaffProfile(db.Model):
    """A named member of the billing office, as patients will see them."""

    __tablename__ = "staff_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    out_of_office: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    capacity: Mapped[int] = mapped_column(default=20)

    user: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity_not_negative"),)
