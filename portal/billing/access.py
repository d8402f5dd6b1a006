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
from sqlalchemy import select

from ..auth import quickpay
from ..auth.models import UserAccount
from ..extensions import db
from .models import Statement
from .services import visible_statement


@dataclass(frozen=True)
class Viewer:
    account_ids: frozenset[int]
    is_staff: bool
    guest_grants: dict[int, float]
    now: float  # not money: Unix time
    # Supervisors see every statement; other billing staff only those their questions are about.
    is_supervisor: bool = False
    assigned_statement_ids: frozenset[int] = frozenset()

    def may_see(self, statement: Statement) -> bool:
        return (self.is_supervisor or statement.account_id in self.account_ids or statement.id in self.guest_grants
                or statement.id in self.assigned_statement_ids)

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
    # The ids alone: every page that shows a bill asks, and none of them needs the accounts' rows from here.
    accounts = (frozenset(db.session.scalars(select(UserAccount.account_id)
                                             .where(UserAccount.user_id == current_user.id)))
                if current_user.is_authenticated and not is_staff else frozenset())
    is_supervisor = is_staff and current_user.is_supervisor
    assigned = frozenset(assigned_statement_ids(current_user.id)) if is_staff and not is_supervisor else frozenset()
    return Viewer(accounts, is_staff, quickpay.granted_statements(session, now), now, is_supervisor, assigned)


def assigned_statement_ids(staff_user_id: int) -> list[int]:
    """The statements of the questions given to this staff member: the bills they may open."""
    from ..questions.models import Question

    return list(db.session.scalars(select(Question.statement_id).where(Question.assigned_staff_id == staff_user_id)
                                   .distinct()))


def statement_for(viewer: Viewer, number: str) -> Statement | None:
    """Statement ``number`` if ``viewer`` may see it."""
    return visible_statement(number[:40], account_ids=viewer.account_ids, all_statements=viewer.is_supervisor,
                             guest_statement_ids=set(viewer.guest_grants) | viewer.assigned_statement_ids)
