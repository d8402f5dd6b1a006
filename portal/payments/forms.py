"""The pay form (how much, where to send the receipt) and the staff refund form."""
from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, Regexp

from ..i18n import _l

FULL, OTHER = "full", "other"


def new_attempt_key() -> str:
    return secrets.token_urlsafe(24)


class PayForm(FlaskForm):
    # Two radio buttons, written out in the template with the amounts in their labels.
    choice = StringField(_l("How much do you want to pay?"), default=FULL,
                         validators=[AnyOf((FULL, OTHER), message=_l("Choose how much you want to pay."))])
    other_amount = StringField(_l("Amount"), validators=[Length(max=30)])
    receipt_email = EmailField(_l("Email for your receipt (optional)"),
                               validators=[Optional(), Email(_l("Enter an email address like name@example.com.")),
                                           Length(max=254)])
    # A one-time token per form: sending the same form twice finds the payment it already started.
    attempt = HiddenField(default=new_attempt_key, validators=[DataRequired(), Length(min=16, max=64)])


class CardForm(FlaskForm):
    """Filled in by the card script once Stripe.js has set the card up; the card itself never comes here."""

    # Only the shape of a Stripe SetupIntent id ever goes to Stripe: anything else in its address (braces,
    # slashes, a query) gets an answer that is not "no such object" and would read as Stripe being down.
    setup_intent = HiddenField(validators=[DataRequired(_l("We could not use that card. Please enter it again.")),
                                           Length(max=255),
                                           Regexp(r"^seti_[A-Za-z0-9]+\Z",
                                                  message=_l("We could not use that card. Please enter it again."))])


class RefundForm(FlaskForm):
    amount = StringField(_l("Amount to refund"), validators=[DataRequired(_l("Enter the amount to refund.")),
                                                            Length(max=30)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why this payment is refunded.")),
                                                     Length(max=500)])
    attempt = HiddenField(default=new_attempt_key, validators=[DataRequired(), Length(min=16, max=64)])


class ReviewedForm(FlaskForm):
    """A button: staff have looked at a Stripe event that needed review."""
