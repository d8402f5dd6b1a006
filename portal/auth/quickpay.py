"""Quick-pay grants: a statement opened with its number and a date of birth, for a limited time.

Grants live in the signed session cookie, so any app server can check them and they end with the
browser session. They take a plain mapping so that they are tested without a request.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

SESSION_KEY = "quick_pay"


def grant(session: MutableMapping[str, Any], statement_id: int, now: float, minutes: int) -> float:  # not money: Unix time
    """Allow this browser session to open ``statement_id`` until ``now + minutes``; return the expiry."""
    grants = {k: v for k, v in session.get(SESSION_KEY, {}).items() if v > now}
    expires = now + minutes * 60
    grants[str(statement_id)] = expires
    session[SESSION_KEY] = grants
    return expires


def granted_statements(session: MutableMapping[str, Any], now: float) -> dict[int, float]:  # not money: Unix time
    """Map each statement this session may open by quick pay to when that access ends."""
    return {int(k): v for k, v in session.get(SESSION_KEY, {}).items() if v > now}
