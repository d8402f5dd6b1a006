"""Emailed receipts, written in the language the patient paid in, sent after the posting is committed."""
from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import force_locale

from ..billing.models import utcnow
from ..extensions import db
from ..i18n import _
from ..mail import send_mail
from .models import Payment
from .services import receipt_balance

log = logging.getLogger("portal.payments")


def send_receipts(payments: list[Payment]) -> int:
    """Email each payment's receipt once and mark it sent; return how many went out.

    Called after the commit that posted the payments. A mail failure is logged, and the payment stays
    marked unsent, for ``payments reconcile`` to try again.
    """
    sent = 0
    for payment in payments:
        if not payment.receipt_email or payment.receipt_sent_at is not None:
            continue
        try:
            with force_locale(payment.locale or current_app.config["DEFAULT_LOCALE"]):
                body = render_template("email/receipt.txt", payment=payment, statement=payment.statement,
                                       balance=receipt_balance(payment))
                subject = _("Your payment receipt for statement %(number)s", number=payment.statement.number)
            send_mail(payment.receipt_email, subject, body)
        except OSError:
            log.warning("receipt for payment %s not sent: mail server unavailable", payment.id)
            continue
        payment.receipt_sent_at = utcnow()
        db.session.commit()
        sent += 1
    return sent
