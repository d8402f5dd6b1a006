"""Who is looking, from the request: a patient's accounts, billing staff, or a quick-pay guest.

Every route that touches a statement, or a payment on one, asks here; anything the viewer may not see
is None, shown as 404 so that numbers cannot be probed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import session
from flask_login import current_user

from ..auth import quickpay
from .models import Statement
from .services import visible_statement


@dataclass(frozen=True)
class Viewer:
    account_ids: frozenset[int]
    is_staff: bool
    guest_grants: dict[int, float]
    now: float  # not money: Unix time

    def may_see(self, statement: Statement) -> bool:
        return self.is_staff or statement.account_id in self.account_ids or statement.id in self.guest_grants

    def is_guest_for(self, statement: Statement) -> bool:
        return not self.is_staff and statement.account_id not in self.account_ids

    def guest_minutes_left(self, statement: Statement) -> int | None:
        """Minutes left of a quick-pay grant on ``statement``, or None when not viewing as a guest."""
        if not self.is_guest_for(statement) or statement.id not in self.guest_grants:
            return None
        return max(1, math.ceil((self.guest_grants[statement.id] - self.now) / 60))


def current_viewer() -> Viewer:
    now = time.time()
    is_staff = bool(current_user.is_authenticated and current_user.is_staff)
    accounts = (frozenset(a.id for a in current_user.accounts) if current_user.is_authenticated and not is_staff
                else frozenset())
    return Viewer(accounts, is_staff, quickpay.granted_statements(session, now), now)


def statement_for(viewer: Viewer, number: str) -> Statement | None:
    """Statement ``number`` if ``viewer`` may see it."""
    return visible_statement(number[:40], account_ids=viewer.account_ids, all_statements=viewer.is_staff,
                             guest_statement_ids=viewer.guest_grants.keys())
