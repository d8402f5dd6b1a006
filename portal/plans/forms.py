"""The forms of a payment plan: choosing and agreeing to the schedule, autopay, and ending the plan."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from ..i18n import _l
from ..questions.forms import options
from .schedule import LAST_DAY

AGREE = "agree"


def whole_number(value: object) -> int:
    """A choice as a number; anything else as 0, which the schedule's check refuses with a clear message."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else 0


class ScheduleForm(FlaskForm):
    """How many months and on which day; sent once to see the schedule (the button named ``action`` says
    ``preview``), then again to agree to it (``agree``)."""

    # Choices the rules do not offer are refused by the schedule's own check, with a message that says why.
    months = RadioField(_l("How many monthly payments?"), coerce=whole_number, choices=[], validate_choice=False,
                        validators=[InputRequired(_l("Choose how many monthly payments you want."))])
    day = SelectField(_l("Day of the month to charge your card"), coerce=whole_number,
                      choices=options((day, str(day)) for day in range(1, LAST_DAY + 1)), validate_choice=False,
                      validators=[InputRequired(_l("Choose the day of the month."))])
    # The total the patient was shown: agreeing to a schedule whose total has changed since is refused.
    total = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=0, max=2**53)])
    agree = BooleanField(_l("I agree to this schedule and to my card being charged on these dates."))


class NewPlanForm(ScheduleForm):
    email = EmailField(_l("Email for notices and receipts"),
                       validators=[DataRequired(_l("Enter an email address like name@example.com.")),
                                   Email(_l("Enter an email address like name@example.com.")), Length(max=254)])


class AutopayForm(FlaskForm):
    enabled = RadioField(_l("Autopay of new statements"), choices=options([("on", _l("On")), ("off", _l("Off"))]),
                         validators=[InputRequired(_l("Choose on or off."))])
    cap = StringField(_l("Pay each new statement automatically up to"), validators=[Length(max=30)])


class CancelForm(FlaskForm):
    confirm = BooleanField(_l("Yes, cancel my payment plan"),
                           validators=[DataRequired(_l("Tick the box to confirm that you want to cancel."))])


class StaffCancelForm(FlaskForm):
    reason = TextAreaField(_l("Why is the plan cancelled? The patient reads this."),
                           validators=[DataRequired(_l("Say why the plan is cancelled.")), Length(max=1000)])


class ButtonForm(FlaskForm):
    """A button that changes something: only its CSRF token."""
