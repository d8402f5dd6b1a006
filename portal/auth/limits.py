"""Rate limits on guessing: failed sign-ins and statement look-ups, per client address and per target.

Only failures count (``note_failure`` marks one), so a patient who signs in fine is never held up.
Limits are shared across the sign-in, claim and quick-pay forms, so that an attacker cannot spread
guesses over them.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, g, request

from ..billing.services import normalise_statement_number
from ..extensions import limiter
from .services import normalise_email


def note_failure() -> None:
    """Count this request against the limits: wrong password, or no bill matched."""
    g.auth_failure = True


def _failed(response: Response) -> bool:
    return bool(g.get("auth_failure"))


def _limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _target_key() -> str:
    # The thing being guessed at: an email address or a statement number.
    if "email" in request.form:
        return "email:" + normalise_email(request.form.get("email", ""))[:254]
    number = normalise_statement_number(request.form.get("statement_number", ""))[:40]
    return "statement:" + number


def limit_guessing(view: Callable) -> Callable:
    """Apply the per-address and per-target failure limits to a POSTed form view."""
    by_address = limiter.shared_limit(_limit, scope="guessing-by-address", methods=["POST"], deduct_when=_failed)
    by_target = limiter.shared_limit(_limit, scope="guessing-by-target", key_func=_target_key, methods=["POST"],
                                     deduct_when=_failed)
    return by_address(by_target(view))


def limit_messages(view: Callable) -> Callable:
    """Limit requests that send email (password reset), counted whether or not the email exists."""
    by_address = limiter.shared_limit(_limit, scope="mail-by-address", methods=["POST"])
    by_target = limiter.shared_limit(_limit, scope="mail-by-target", key_func=_target_key, methods=["POST"])
    return by_address(by_target(view))
