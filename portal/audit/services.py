"""Recording audit events. Adds to the session; the caller commits with the work it audits."""
from __future__ import annotations

from ..extensions import db
from .models import AuditEvent


def record(action: str, *, actor_kind: str, actor_user_id: int | None = None, subject_type: str | None = None,
           subject_id: int | None = None, ip_address: str | None = None) -> AuditEvent:
    event = AuditEvent(action=action, actor_kind=actor_kind, actor_user_id=actor_user_id,
                       subject_type=subject_type, subject_id=subject_id, ip_address=ip_address)
    db.session.add(event)
    return event
