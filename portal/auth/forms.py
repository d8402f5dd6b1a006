"""Sign-in, registration, password and quick-pay forms, labelled as on the paper bill."""
from __future__ import annotations

from datetime import date

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Email, EqualTo, Length

from ..billing.services import normalise_statement_number
from ..i18n import _, _l, current_locale, date_input_example, parse_date_input


class StatementNumberField(StringField):
    """Digits only, as printed on the bill; spaces and dashes people copy are dropped."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data:
            self.data = normalise_statement_number(self.data)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data and not (self.data.isascii() and self.data.isdigit() and 6 <= len(self.data) <= 12):
            raise ValidationError(_("Enter the statement number exactly as it is printed on your bill: "
                                    "6 to 12 digits, no letters."))


class DateOfBirthField(StringField):
    """A date typed in the locale's order (or as YYYY-MM-DD), kept as a ``date`` in ``parsed``."""

    parsed: date | None = None

    def pre_validate(self, form: FlaskForm) -> None:
        self.parsed = None
        if not self.data:
            return
        try:
            value = parse_date_input(self.data, current_locale())
        except ValueError:
            raise ValidationError(_("Enter the date of birth as numbers, for example %(example)s.",
                                    example=date_input_example(current_locale()))) from None
        if value > date.today() or value.year < 1900:
            raise ValidationError(_("Enter a real date of birth, for example %(example)s.",
                                    example=date_input_example(current_locale())))
        self.parsed = value

    @property
    def hint(self) -> str:
        return _("For example, %(example)s", example=date_input_example(current_locale()))


def _statement_number() -> StatementNumberField:
    return StatementNumberField(
        _l("Statement number"),
        validators=[DataRequired(_l("Enter the statement number from your bill.")), Length(max=40)],
        description=_l("You'll find it at the top of your paper bill."))


def _date_of_birth() -> DateOfBirthField:
    return DateOfBirthField(
        _l("Date of birth"),
        validators=[DataRequired(_l("Enter the patient's date of birth.")), Length(max=20)],
        description=_l("The patient's date of birth."))


class _PasswordLength(Length):
    def __init__(self) -> None:
        super().__init__(max=128)

    def __call__(self, form: FlaskForm, field: PasswordField) -> None:
        self.min = current_app.config["PASSWORD_MIN_LENGTH"]
        self.message = _("Choose a password of %(min)d to %(max)d characters.", min=self.min, max=self.max)
        super().__call__(form, field)


def _strip(value: str | None) -> str | None:
    # Addresses copied from an email or a note often carry a space at either end.
    return value.strip() if isinstance(value, str) else value


def _email() -> EmailField:
    return EmailField(_l("Email"), filters=[_strip], validators=[
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("That email address is too long.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False),
    ])


class LoginForm(FlaskForm):
    email = _email()
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=128, message=_l("That password is too long."))])


class ClaimBillForm(FlaskForm):
    statement_number = _statement_number()
    date_of_birth = _date_of_birth()
    last_name = StringField(_l("Last name"), validators=[
        DataRequired(_l("Enter the patient's last name.")),
        Length(max=100, message=_l("Enter a last name of at most 100 characters."))],
        description=_l("The patient's last name, as on the bill."))


class CreateLoginForm(FlaskForm):
    email = _email()
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password.")),
                                                         _PasswordLength()])
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(_l("Type the password again.")),
        EqualTo("password", message=_l("The two passwords are not the same."))])


class ForgotPasswordForm(FlaskForm):
    email = _email()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Choose a password.")),
                                                             _PasswordLength()])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Type the password again.")),
        EqualTo("password", message=_l("The two passwords are not the same."))])


class QuickPayForm(FlaskForm):
    statement_number = _statement_number()
    date_of_birth = _date_of_birth()


class ConfirmForm(FlaskForm):
    """A button-only form (sign out): CSRF protection and nothing else."""
