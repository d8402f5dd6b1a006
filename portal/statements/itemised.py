"""Itemised bills asked for from a statement's page: printed at once, and each request kept on record."""
from __future__ import annotations

from sqlalchemy import select

from ..billing.access import Viewer
from ..billing.models import Statement
from ..extensions import db
from .models import ItemisedBillRequest


def requested_by(viewer: Viewer, statement: Statement) -> str:
    """Who is asking, as the record names them: billing staff, a quick-pay guest, or the patient."""
    if viewer.is_staff:
        return "staff"
    return "guest" if viewer.is_guest_for(statement) else "patient"


def record_request(statement: Statement, viewer: Viewer, user_id: int | None, locale: str) -> ItemisedBillRequest:
    """Keep the request (added to the session; the caller commits it with the audit record)."""
    kind = requested_by(viewer, statement)
    asked = ItemisedBillRequest(statement_id=statement.id, requested_by=kind,
                                user_id=user_id if kind != "guest" else None, language=locale)
    db.session.add(asked)
    return asked


def requests_for(statement_id: int) -> list[ItemisedBillRequest]:
    """The statement's itemised bill requests, the latest first."""
    return list(db.session.scalars(select(ItemisedBillRequest).where(ItemisedBillRequest.statement_id == statement_id)
                                   .order_by(ItemisedBillRequest.created_at.desc(), ItemisedBillRequest.id.desc())))
