"""The patient's "Dispute this charge" form and the billing office's resolution form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from ..i18n import _l
from ..questions.forms import MESSAGE_LENGTH, AskForm, options
from .wording import OUTCOME_CHOICES, REASON_CHOICES


class DisputeForm(AskForm):
    """The question form's language and contact fields, with a reason instead of a topic."""

    topic = None
    reason = RadioField(_l("Why do you think this charge is wrong?"), choices=options(REASON_CHOICES.items()),
                        validators=[InputRequired(_l("Choose why you think this charge is wrong."))])
    message = TextAreaField(_l("Tell us what happened"),
                            validators=[DataRequired(_l("Tell us what happened, in your own words.")), MESSAGE_LENGTH])


class ResolveDisputeForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), choices=options(OUTCOME_CHOICES.items()),
                         validators=[InputRequired(_l("Choose the outcome."))])
    amount = StringField(_l("Amount to take off (only when corrected)"), validators=[Length(max=30)])
    message = TextAreaField(_l("What the patient reads"),
                            validators=[DataRequired(_l("Tell the patient what was decided and why.")),
                                        MESSAGE_LENGTH])
