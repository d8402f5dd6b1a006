"""Audit from a view: who is asking is taken from the request."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from .models import AuditEvent
from .services import record


def audit(action: str, subject_type: str | None = None, subject_id: int | None = None, *,
          user=None, guest: bool = False) -> AuditEvent:  # noqa: ANN001 (a User)
    """Record ``action`` by the signed-in user (or ``user``), a quick-pay guest, or an anonymous visitor."""
    actor = user if user is not None else (current_user if current_user.is_authenticated else None)
    kind = actor.role if actor is not None else ("guest" if guest else "anonymous")
    return record(action, actor_kind=kind, actor_user_id=actor.id if actor is not None else None,
                  subject_type=subject_type, subject_id=subject_id, ip_address=request.remote_addr)
