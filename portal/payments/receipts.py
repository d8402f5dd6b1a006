"""Emailed receipts, written in the language the patient paid in, queued after the posting is committed."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from ..billing.models import utcnow
from ..extensions import db
from ..i18n import _
from ..outbox.services import queue_mail
from .models import Payment
from .services import receipt_balance


def queue_receipts(payments: list[Payment]) -> int:
    """Queue each payment's receipt once and mark it queued; return how many were queued.

    Called after the commit that posted the payments. The outbox then sends it in the background, trying
    again while the mail server is unavailable.
    """
    queued = 0
    for payment in payments:
        if not payment.receipt_email or payment.receipt_sent_at is not None:
            continue
        with force_locale(payment.locale or current_app.config["DEFAULT_LOCALE"]):
            body = render_template("email/receipt.txt", payment=payment, statement=payment.statement,
                                   balance=receipt_balance(payment))
            subject = _("Your payment receipt for statement %(number)s", number=payment.statement.number)
        queue_mail(payment.receipt_email, subject, body, kind="receipt")
        # From here the outbox answers for it: "sent" means handed over, in the same commit as the mail.
        payment.receipt_sent_at = utcnow()
        db.session.commit()
        queued += 1
    return queued
