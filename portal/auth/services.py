"""Sign-in, registration by claiming a bill, password resets and quick-pay look-ups."""
from __future__ import annotations

import hashlib
import unicodedata
from datetime import date

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from ..billing.models import Account, Patient, Statement, Visit, utcnow
from ..billing.services import normalise_statement_number
from ..extensions import db
from .models import User, UserAccount, new_session_token
from .passwords import burn_verification_time, hash_password, needs_rehash, verify_password

RESET_SALT = "portal.password-reset"


class EmailTaken(ValueError):
    """The email already belongs to a login."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _name_key(name: str) -> str:
    """Compare names the way a person would: ignore case, accents, spaces, hyphens and apostrophes."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """Return the user whose email and password these are, or None."""
    user = user_by_email(email)
    if user is None:
        burn_verification_time(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def _statement_patients(statement: Statement) -> list[Patient]:
    return list(db.session.scalars(
        select(Patient).join(Visit, Visit.patient_id == Patient.id).where(Visit.statement_id == statement.id)
        .distinct()))


def find_claimable_statement(number: str, birth_date: date, family_name: str) -> Statement | None:
    """Return the statement if a patient on it has this date of birth and last name."""
    statement = db.session.scalar(select(Statement).where(Statement.number == normalise_statement_number(number)))
    if statement is None:
        return None
    wanted = _name_key(family_name)
    for patient in _statement_patients(statement):
        if patient.birth_date == birth_date and _name_key(patient.family_name) == wanted:
            return statement
    return None


def find_statement_for_quick_pay(number: str, birth_date: date) -> Statement | None:
    """Return the statement if a patient on it was born on ``birth_date``."""
    statement = db.session.scalar(select(Statement).where(Statement.number == normalise_statement_number(number)))
    if statement is None:
        return None
    if any(p.birth_date == birth_date for p in _statement_patients(statement)):
        return statement
    return None


def link_account(user: User, account: Account) -> bool:
    """Let ``user`` see ``account``; return False when it already could."""
    if db.session.get(UserAccount, (user.id, account.id)) is not None:
        return False
    db.session.add(UserAccount(user_id=user.id, account_id=account.id))
    db.session.flush()
    db.session.expire(user, ["accounts"])
    return True


def create_patient_login(email: str, password: str, account: Account, locale: str | None) -> User:
    """Create a patient login that can see ``account``."""
    if user_by_email(email) is not None:
        raise EmailTaken(email)
    user = User(email=normalise_email(email), password_hash=hash_password(password), role="patient",
                locale=locale, last_login_at=utcnow())
    db.session.add(user)
    db.session.flush()
    link_account(user, account)
    return user


def end_sessions(user: User) -> None:
    """Make every session cookie of ``user`` worthless, in this browser and any other."""
    # The session is a signed cookie the server cannot take back: without a new token, a copy of it (stolen, or
    # left on a shared computer) would stay signed in after sign-out for as long as it kept being used.
    user.session_token = new_session_token()


def set_password(user: User, password: str) -> None:
    """Change the password and sign out every browser that was signed in with the old one."""
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # Part of the token: once the password changes, the link no longer matches, so it works once.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def password_reset_token(user: User, secret_key: str) -> str:
    return _reset_serializer(secret_key).dumps({"u": user.id, "p": _password_fingerprint(user)})


def user_for_reset_token(token: str, secret_key: str, max_age: int) -> User | None:
    """Return the user a reset link belongs to, or None if it is forged, expired or already used."""
    try:
        data = _reset_serializer(secret_key).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or data.get("p") != _password_fingerprint(user):
        return None
    return user
