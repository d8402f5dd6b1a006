"""``POST /stripe/webhook``: Stripe tells us what happened to payments, refunds and disputes.

The signature is checked on the raw body before anything is read. Each event is stored and applied in
one transaction; a second delivery of the same event fails at the unique event id and changes nothing.
Answers: 200 for applied, repeated and ignored events; 400 for a bad signature (nothing stored);
503 when the database or Stripe failed, so that Stripe delivers the event again later.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import has_nul
from ..extensions import csrf, db, limiter
from . import services
from . import stripe_gateway as gateway
from .receipts import queue_receipts

bp = Blueprint("stripe_webhooks", __name__)
log = logging.getLogger("portal.payments.webhooks")


@bp.route("/stripe/webhook", methods=["POST"])
@csrf.exempt
@limiter.exempt
def webhook():
    try:
        event = gateway.verify_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except gateway.BadSignature as error:
        log.warning("webhook refused: %s", error)
        return jsonify(error="bad signature"), 400
    # (Stripe never sends a NUL character, which PostgreSQL could not store: such an event is not Stripe's.)
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str) or has_nul(event):
        return jsonify(error="not an event"), 400
    try:
        row, applied = services.record_event(event)
        # Read before the commit expires them: the log line and who gets a receipt.
        review, kind = row.review_reason, row.type
        receipts = [payment for payment in applied.posted if payment.receipt_email]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if services.event_received(event["id"]):
            log.info("event %s already received", event["id"])
            return jsonify(received=True, duplicate=True)
        log.exception("event %s broke a database rule; not applied", event["id"])
        return jsonify(error="try again"), 503
    except (gateway.GatewayError, OperationalError):
        db.session.rollback()
        log.warning("event %s not applied now; Stripe will send it again", event["id"])
        return jsonify(error="try again"), 503
    if review:
        log.warning("event %s (%s) needs review: %s", event["id"], kind, review)
    queue_receipts(receipts)
    return jsonify(received=True)
