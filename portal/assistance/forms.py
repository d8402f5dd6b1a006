"""The financial assistance application and the billing office's decision form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, MultipleFileField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..i18n import _, _l
from ..questions.forms import MESSAGE_LENGTH, AskForm, options
from .screening import MAX_HOUSEHOLD


class ApplicationForm(AskForm):
    """The question form's language and contact fields, with the household's size and income instead of a
    topic; the patient's own words are optional here."""

    topic = None
    # Text, read here: WTForms' own IntegerField answers "Not a valid integer value." in English only.
    household_size = StringField(
        _l("How many people live in your household?"), validators=[Length(max=10)],
        description=_l("You, and anyone who lives with you and shares income: a spouse or partner, children, "
                       "other relatives you support."))
    annual_income = StringField(
        _l("Your household's income in a year, before tax"), validators=[DataRequired(
            _l("Enter your household's income in a year. Enter 0 if there is none.")), Length(max=30)],
        description=_l("Add up everyone's wages, benefits, pensions and other income over 12 months."))
    message = TextAreaField(_l("Anything else we should know (optional)"), validators=[Optional(), MESSAGE_LENGTH])
    documents = MultipleFileField(_l("Proof of income (optional)"))
    def validate_household_size(self, field) -> None:  # noqa: ANN001 (a WTForms field)
        text = (field.data or "").strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_HOUSEHOLD):
            raise ValidationError(_("Enter how many people live in your household, as a number from 1 to %(max)d.",
                                    max=MAX_HOUSEHOLD))
        field.data = text

    @property
    def household(self) -> int:
        return int(self.household_size.data)

    confirm = BooleanField(_l("What I have written is true, to the best of my knowledge."),
                           validators=[DataRequired(_l("Confirm that what you have written is true."))])


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=options([("approved", _l("Approved")), ("denied", _l("Not approved"))]),
                          validators=[InputRequired(_l("Choose the decision."))])
    amount = StringField(_l("Discount to take off the statement (approved only)"), validators=[Length(max=30)])
    message = TextAreaField(_l("What the patient reads"),
                            validators=[DataRequired(_l("Tell the patient what was decided and why.")),
                                        MESSAGE_LENGTH])
