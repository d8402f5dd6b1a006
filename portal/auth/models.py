"""Logins and their link to guarantor accounts."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import Account, utcnow
from ..extensions import db

ROLES = ("patient", "staff", "supervisor")


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class UserAccount(db.Model):
    """A login's right to see a guarantor account, granted by claiming one of its bills."""

    __tablename__ = "user_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so that one address is one login whatever its spelling.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="patient")
    locale: Mapped[str | None] = mapped_column(String(16))
    # What the session cookie carries instead of the id; replaced when the password changes, which
    # signs out every other browser that was signed in.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    accounts: Mapped[list[Account]] = relationship(secondary="user_accounts", order_by=Account.id)

    __table_args__ = (CheckConstraint("role IN ('patient', 'staff', 'supervisor')", name="role_known"),)

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "supervisor")

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"
