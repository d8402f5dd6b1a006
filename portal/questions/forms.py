"""The patient's question form, their reply form, and the staff forms on a question."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, RadioField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from ..i18n import _, _l
from .models import STATUSES
from .reasons import TOPIC_CHOICES, TOPIC_LABELS
from .services import MESSAGE_MAX_LENGTH

def options(pairs) -> list[SelectChoice]:  # noqa: ANN001 (an iterable of (value, label))
    """Choices for a radio or select field, in WTForms' own form (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


MESSAGE_LENGTH = Length(max=MESSAGE_MAX_LENGTH, message=_l("Keep your message to %(max)d characters or fewer."))


class AskForm(FlaskForm):
    topic = RadioField(_l("What is your question about?"), choices=options(TOPIC_CHOICES.items()),
                       validators=[InputRequired(_l("Choose what your question is about."))])
    message = TextAreaField(_l("Your question"),
                            validators=[DataRequired(_l("Write your question.")), MESSAGE_LENGTH])
    language = SelectField(_l("Language for our answer"), validators=[InputRequired()])
    contact_method = RadioField(_l("If we need to reach you, how?"),
                                choices=options([("email", _l("By email")), ("phone", _l("By phone"))]), default="email",
                                validators=[InputRequired(_l("Choose how we may reach you."))])
    # Whether these are needed depends on the other answers, so they are checked below, not with Optional()
    # (which would stop the checks of an empty field).
    email = EmailField(_l("Email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])

    def __init__(self, *args, email_required: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A guest has no login to send the answer's notice to, so their email is needed.
        self.email_required = email_required

    def validate_email(self, field) -> None:  # noqa: ANN001 (a WTForms field)
        if (field.data or "").strip():
            Email(_l("Enter an email address like name@example.com."))(self, field)
        elif self.email_required or self.contact_method.data == "email":
            raise ValidationError(_l("Enter your email address so that we can tell you when we answer."))

    def validate_phone(self, field) -> None:  # noqa: ANN001
        if self.contact_method.data == "phone" and not (field.data or "").strip():
            raise ValidationError(_l("Enter the phone number we should call."))


class ReplyForm(FlaskForm):
    message = TextAreaField(_l("Your reply"), validators=[DataRequired(_l("Write your reply.")), MESSAGE_LENGTH])


class StaffReplyForm(FlaskForm):
    message = TextAreaField(_l("Message"), validators=[DataRequired(_l("Write a message.")), MESSAGE_LENGTH])
    kind = RadioField(_l("Who sees it"), choices=options([("reply", _l("Reply: the patient sees it")),
                                                         ("note", _l("Internal note: only staff see it"))]),
                      default="reply", validators=[InputRequired()])


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=options((s, s) for s in STATUSES), validators=[InputRequired()])


class ReassignForm(FlaskForm):
    staff = SelectField(_l("Give it to"), coerce=int, validators=[InputRequired()])
    reason = TextAreaField(_l("Why"), validators=[DataRequired(_l("Say why you reassign this question.")),
                                                  Length(max=1000)])


class RosterForm(FlaskForm):
    """A supervisor edits one person's languages, topics, departments, time away and whether they work here."""

    languages = StringField(_l("Languages they answer in"), validators=[DataRequired(_l("Give at least one language.")),
                                                                       Length(max=200)],
                            description=_l("Language codes separated by commas, such as: en, es, zh_Hans"))
    topics = SelectMultipleField(_l("Topics they handle"), choices=options(TOPIC_LABELS.items()),
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    departments = StringField(_l("Departments they cover"), validators=[Length(max=500)],
                              description=_l("Separated by commas, such as: Emergency, Radiology"))
    away_from = DateField(_l("Out of office from"), validators=[Optional()])
    away_until = DateField(_l("Out of office until (the last day away)"), validators=[Optional()])
    active = BooleanField(_l("Answers questions (untick when they leave the office)"))

    def validate_away_until(self, field) -> None:  # noqa: ANN001 (a WTForms field)
        if field.data and self.away_from.data and field.data < self.away_from.data:
            raise ValidationError(_l("The last day away cannot be before the first."))

    def validate_languages(self, field) -> None:  # noqa: ANN001
        codes = split_list(field.data)
        bad = [code for code in codes if not _known_language(code)]
        if bad or not codes:
            # gettext, not lazy_gettext: a lazy string counts as safe HTML (it has __html__), so the codes typed
            # into the form would reach the page unescaped.
            raise ValidationError(_("Not a language code: %(codes)s", codes=", ".join(bad) or field.data))


def split_list(text: str | None) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))


def _known_language(code: str) -> bool:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True
