"""How a plan and its charges are named on the page, in the patient's language."""
from __future__ import annotations

from ..i18n import _l

PLAN_STATUS_LABELS = {
    "awaiting_card": _l("Waiting for a card"),
    "active": _l("Active"),
    "completed": _l("Paid off"),
    "broken": _l("Ended: payments were refused"),
    "cancelled": _l("Cancelled"),
}

CHARGE_STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "charging": _l("Being charged"),
    "failed": _l("Refused, will try again"),
    "paid": _l("Paid"),
    "missed": _l("Refused"),
    "skipped": _l("Not needed"),
    "cancelled": _l("Cancelled"),
    "replaced": _l("Replaced"),
}

def register(app) -> None:  # noqa: ANN001 (a Flask app)
    app.jinja_env.globals.update(plan_status_labels=PLAN_STATUS_LABELS, charge_status_labels=CHARGE_STATUS_LABELS)
