"""Fuzzing every form of the portal, the Stripe webhook and both importers with hypothesis.

Each form gets arbitrary text (unicode, right-to-left marks, emoji, NUL bytes, strings of up to 10,000
characters), numbers and dates as people and machines mistype them ('1e9', '-0', '١٢٣', '12,34.5',
'1985-02-30'), missing, repeated and unknown fields, mixed with the right answers so that the accepting
path is exercised too. Two promises are checked for every example:

- no input gets a server error (every answer is below 500);
- no partial write: an input that is refused leaves every table but the audit log exactly as it was, and an
  accepted one writes a whole, consistent result (amounts in integer minor units that reconcile).

The importers get random JSON and CSV, and mutations of a valid bundle and of the sample CSV file: each unit
is either imported completely and consistently (and importing it again changes nothing) or refused with
``BadInput`` and no row written; any other exception is a bug.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import secrets
import urllib.parse
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import select

from portal.auth.models import User
from portal.billing.models import Account, LineItem, Patient, Statement, Visit
from portal.extensions import db, limiter
from portal.imports.models import ImportedClaim
from portal.payments.models import Payment, Refund, StripeEvent
from portal.questions.forms import split_list
from portal.questions.models import STATUSES, Question, QuestionMessage, StaffProfile
from portal.questions.reasons import TOPIC_CHOICES

from . import fhir_bundles as fb
from .conftest import SECRET, csrf_token, sign_webhook
from .payflow import events_for, pay, start
from .test_import_fhir import _paths
from .test_questions_web import staff  # noqa: F401 (a fixture)

SAMPLE_CSV = Path(__file__).parent / "data" / "import" / "sample.csv"
PASSWORD = "correct horse battery"
BORN = date(1980, 5, 17)  # the factory's patient


def fuzz(examples: int):
    """Hypothesis settings for a form: fixtures are built once per test and each example undoes or accounts
    for what it did; no example database in the checkout."""
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


@pytest.fixture
def app(make_app):
    """The portal with the guessing limits out of the way: hundreds of refused sign-ins are the point here."""
    app = make_app(AUTH_RATE_LIMIT="100000 per minute")
    limiter.reset()
    with app.app_context():
        yield app
    limiter.reset()


# ------------------------------------------------------------------------------------------------ inputs

MISSING = object()

ODD = st.sampled_from([
    "", " ", "\x00", "a\x00b", "1e9", "-0", "١٢٣", "12,34.5", "$1,234.50", "1.234,50", "0.001", "NaN", "inf",
    "-1", "0", "1" * 40, "9" * 400, "²", "٠٣/٢٧/١٩٨٥", "1985-02-30", "02/30/1985", "31/12/1985", "0000-00-00",
    "9999-12-31", "0001-01-01", "1899-12-31", "12/31/9999", "2038-01-19T03:14:07Z", "+1 (555) 010-0000",
    "a@b", "a@b.c", "ａ@ｂ.org", "pat@example.org", " PAT@Example.org ", "<script>alert(1)</script>",
    "' OR 1=1 --", "%00", "\u202eevil", "🙂" * 10, "ß", "İ", "\r\n", "\t", "None", "null", "[]", "{}",
    "\ufeff", "\u200b", "../../etc/passwd", "🏳️‍🌈", "מספר", "مرحبا",
])
LONG = st.builds(lambda char, n: char * n, st.characters(exclude_categories=("Cs",)), st.integers(500, 10_000))
VALUE = st.one_of(ODD, st.text(max_size=60), LONG)
NAMES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12)


def form(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """A form's fields, each one of: missing, its own strategy, any odd value, or repeated; plus unknown ones."""
    def field(own: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(own, own, own, VALUE, st.just(MISSING), st.lists(own | VALUE, min_size=2, max_size=3))

    return st.builds(lambda known, extra: {**extra, **{k: v for k, v in known.items() if v is not MISSING}},
                     st.fixed_dictionaries({name: field(own) for name, own in fields.items()}),
                     st.dictionaries(NAMES, VALUE, max_size=2))


def first(value):  # noqa: ANN001, ANN201 (a form value: text or a list of texts)
    """What WTForms reads from a repeated field: the first value."""
    return value[0] if isinstance(value, list) else value


# ------------------------------------------------------------------------------------------ the database

def database_state() -> dict[str, list[tuple]]:
    """Every row of every table but the audit log (which records refusals too), read on a fresh connection."""
    db.session.rollback()
    with db.engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
                for table in db.metadata.sorted_tables if table.name != "audit_events"}


def changed_tables(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def added(before: dict, after: dict, table: str) -> int:
    return len(after[table]) - len(before[table])


def post(client, url: str, data: dict, token: str):  # noqa: ANN001, ANN201
    response = client.post(url, data={**data, "csrf_token": token})
    assert response.status_code < 500, (url, data, response.status_code)
    return response


def attempt(client, url: str, data: dict, token: str | None = None):  # noqa: ANN001, ANN201
    """POST ``data`` with the page's own CSRF token (or ``token``), reading the database before and after. A
    refused input must have changed nothing, and gives None; an accepted one (response, before, after)."""
    before = database_state()
    response = post(client, url, data, csrf_token(client, url) if token is None else token)
    after = database_state()
    if refused(response):
        assert after == before
        return None
    return response, before, after


def refused(response) -> bool:  # noqa: ANN001
    """Whether the form refused the input; each answer is counted (``--hypothesis-show-statistics`` shows how
    often the accepting path ran)."""
    if currently_in_test_context():
        event(f"answered {response.status_code}")
    return response.status_code >= 400


def signed_in(app, user: User):  # noqa: ANN001, ANN201
    """A client of its own, signed in as ``user``."""
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302
    return client


def guest_with_quick_pay(app, statement: Statement):  # noqa: ANN001, ANN201
    client = app.test_client()
    response = client.post("/quick-pay", data={"statement_number": statement.number, "date_of_birth": "05/17/1980",
                                               "csrf_token": csrf_token(client, "/quick-pay")})
    assert response.status_code == 302
    return client


@pytest.fixture
def question(app, household, staff):
    """A question about the household's statement, asked through the form, routed to someone."""
    user, statement = household
    client = signed_in(app, user)
    url = f"/statements/{statement.number}/ask"
    response = post(client, url, {"topic": "charges", "message": "Why was this billed?", "language": "en",
                                  "contact_method": "email", "email": user.email}, csrf_token(client, url))
    assert response.status_code == 302
    return db.session.scalar(select(Question))


# ---------------------------------------------------------------------------------------- signing in

EMAILS = st.one_of(st.sampled_from(["pat@example.org", " PAT@example.org ", "new@example.org"]), st.emails(), VALUE)
PASSWORDS = st.one_of(st.just(PASSWORD), st.text(min_size=10, max_size=40), VALUE)


@fuzz(50)
@given(data=form(email=EMAILS, password=PASSWORDS))
def test_the_sign_in_form_never_fails_and_signs_in_only_with_the_right_password(app, household, data):
    client = app.test_client()
    before = database_state()
    response = post(client, "/login", data, csrf_token(client, "/login"))
    if refused(response):
        assert database_state() == before  # only the audit log records a failed sign-in
        return
    assert first(data["email"]).strip().lower() == "pat@example.org" and first(data["password"]) == PASSWORD
    assert changed_tables(before, database_state()) <= {"users"}  # the login's last sign-in


NUMBERS = st.one_of(st.sampled_from(["{n}", " {n} ", "{n:-^3}", "4001-0001", "{n}0"]), VALUE)
BIRTH_DATES = st.one_of(st.sampled_from(["05/17/1980", "1980-05-17", "5/17/1980", "17/05/1980", "05/17/80"]), VALUE)
SURNAMES = st.one_of(st.sampled_from(["Guarantor", " guarantor ", "GUARANTOR", "Guarantor-", "Gu arantor"]), VALUE)


def _number(value, statement: Statement):  # noqa: ANN001, ANN202
    """Fill the statement's real number into a sampled pattern ("{n}")."""
    fill = lambda text: text.replace("{n}", statement.number).replace("{n:-^3}", "-".join(statement.number))  # noqa: E731
    return [fill(v) for v in value] if isinstance(value, list) else fill(value)


@fuzz(50)
@given(data=form(statement_number=NUMBERS, date_of_birth=BIRTH_DATES, last_name=SURNAMES))
def test_claiming_a_bill_never_fails_and_writes_nothing_before_the_login_is_made(app, household, data):
    _user, statement = household
    data = {**data, **({"statement_number": _number(data["statement_number"], statement)}
                       if "statement_number" in data else {})}
    client = app.test_client()
    before = database_state()
    response = post(client, "/register", data, csrf_token(client, "/register"))
    if response.status_code == 302:
        assert response.headers["Location"] == "/register/login"
    assert database_state() == before


@fuzz(40)
@given(data=form(email=EMAILS, password=PASSWORDS, confirm=PASSWORDS))
def test_choosing_the_login_never_fails_and_makes_one_whole_login_or_none(app, household, data):
    _user, statement = household
    client = app.test_client()
    claimed = post(client, "/register", {"statement_number": statement.number, "date_of_birth": "05/17/1980",
                                         "last_name": "Guarantor"}, csrf_token(client, "/register"))
    assert claimed.status_code == 302
    outcome = attempt(client, "/register/login", data)
    if outcome is None:
        return
    response, before, after = outcome
    assert response.status_code == 302 and response.headers["Location"] == "/statements"
    assert changed_tables(before, after) == {"users", "user_accounts"}
    assert added(before, after, "users") == 1 and added(before, after, "user_accounts") == 1
    user = db.session.scalar(select(User).order_by(User.id.desc()))
    assert user.email == first(data["email"]).strip().lower() and [a.id for a in user.accounts] == [statement.account_id]


@fuzz(50)
@given(data=form(statement_number=NUMBERS, date_of_birth=BIRTH_DATES))
def test_quick_pay_never_fails_and_writes_nothing(app, household, data):
    _user, statement = household
    data = {**data, **({"statement_number": _number(data["statement_number"], statement)}
                       if "statement_number" in data else {})}
    client = app.test_client()
    before = database_state()
    post(client, "/quick-pay", data, csrf_token(client, "/quick-pay"))
    assert database_state() == before


@fuzz(40)
@given(data=form(email=EMAILS))
def test_asking_for_a_reset_link_never_fails_and_queues_at_most_one_email(app, household, data):
    client = app.test_client()
    outcome = attempt(client, "/password/forgot", data)
    if outcome is None:
        return
    response, before, after = outcome
    assert changed_tables(before, after) <= {"outgoing_mail"} and added(before, after, "outgoing_mail") <= 1


TOKENS = st.one_of(st.sampled_from(["{valid}", "{valid}x", "{trunc}", "{valid}.{valid}", "{half}"]), VALUE)


@fuzz(40)
@given(token=TOKENS, data=form(password=PASSWORDS, confirm=PASSWORDS))
def test_a_reset_link_never_fails_and_changes_only_the_password(app, household, data, token):
    from portal.auth.services import authenticate, password_reset_token

    user, _statement = household
    db.session.refresh(user)
    valid = password_reset_token(user, SECRET)
    token = token.replace("{valid}", valid).replace("{trunc}", valid[:-1]).replace("{half}", valid[: len(valid) // 2])
    url = "/password/reset/" + urllib.parse.quote(token, safe="")
    client = app.test_client()
    page = client.get(url)
    assert page.status_code < 500
    token_works = page.status_code == 200
    outcome = attempt(client, url, data, csrf_token(client, url) if token_works else "no-token")
    if outcome is None:
        return
    response, before, after = outcome
    assert token_works and changed_tables(before, after) == {"users"}
    assert authenticate(user.email, first(data["password"])) is not None
    # Put the known password back for the next example.
    from portal.auth.services import set_password

    db.session.refresh(user)
    set_password(user, PASSWORD)
    db.session.commit()


NEXT = st.one_of(st.sampled_from(["/statements", "//evil.example", "https://evil.example/", "/\\evil.example",
                                  "\\\\evil.example", "javascript:alert(1)", "/%2F%2Fevil.example", " /x",
                                  "http:/evil.example", "/\t/evil.example"]), VALUE)


@fuzz(40)
@given(data=form(language=st.sampled_from(["en", "es", "zh_Hans", "vi", "ar", "bg", "zh", "EN", "de"]), next=NEXT))
def test_the_language_switcher_never_fails_nor_leaves_the_site(app, household, data):
    user, _statement = household
    client = signed_in(app, user)
    outcome = attempt(client, "/language", data, csrf_token(client, "/statements"))
    if outcome is None:
        return
    response, before, after = outcome
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert not location.scheme and not location.netloc and location.path.startswith("/")
    assert changed_tables(before, after) <= {"users"}
    db.session.refresh(user)
    assert user.locale == first(data["language"]) in app.config["SUPPORTED_LOCALES"]


# ------------------------------------------------------------------------------------------------ paying

AMOUNTS = st.one_of(st.sampled_from(["25", "$1,234.50", "0.99", "1.00", "90", "90.00", "90.01", "1e9", "-0",
                                     "١٢٣", "12,34.5", "1.234,50", "$", ".5", "0,5", "5.", "1_000", "٫٥"]),
                    st.decimals(min_value=-100, max_value=200, places=2).map(str), VALUE)
ATTEMPTS = st.one_of(st.builds(lambda: secrets.token_urlsafe(24)), st.just("same-attempt-key-0000"), VALUE)


@fuzz(50)
@given(data=form(choice=st.sampled_from(["full", "other", "FULL", ""]), other_amount=AMOUNTS,
                 receipt_email=EMAILS, attempt=ATTEMPTS))
@example(data={"other_amount": "25", "receipt_email": "pat@example.org"})  # no attempt key: the form makes one
@example(data={"other_amount": "25", "attempt": "same-attempt-key-0000"})
def test_the_pay_form_never_fails_and_starts_one_payable_payment_or_none(app, household, data):
    user, statement = household
    client = signed_in(app, user)
    url = f"/statements/{statement.number}/pay"
    before = database_state()
    attempt = first(data.get("attempt", ""))
    # (A NUL is refused before any query; PostgreSQL could not even be asked about it.)
    known = None if "\x00" in attempt else \
        db.session.scalar(select(Payment).where(Payment.attempt_key == attempt))
    response = post(client, url, data, csrf_token(client, url))
    after = database_state()
    if refused(response):
        assert after == before
        return
    assert response.status_code == 302
    assert added(before, after, "payments") == (0 if known else 1)
    assert {name for name in changed_tables(before, after) if added(before, after, name)} <= {"payments"}
    # The payment of this form: an earlier example's when it sent the same attempt key; the newest when it sent
    # none (the form then makes its own key).
    payment = db.session.scalar(select(Payment).where(Payment.attempt_key == attempt) if "attempt" in data
                                else select(Payment).order_by(Payment.id.desc()))
    assert isinstance(payment.amount, int) and payment.status == "pending" and payment.statement_id == statement.id
    # At least the minimum, at most the amount due; the whole balance when it is asked for.
    assert (100 <= payment.amount <= 9000) if not known else payment.id == known.id
    if first(data.get("choice", "full")) == "full" and not known:
        assert payment.amount == 9000


@fuzz(25)
@given(data=form(setup_intent=st.sampled_from(["seti_doesnotexist", "../../v1/customers", "seti_", "x" * 255,
                                               "seti_1?expand[]=customer", "seti_%2e%2e"])))
@example(data={"setup_intent": "{"})  # once a 503 "Stripe is unavailable, you may be charged"
def test_the_card_form_never_fails_and_a_made_up_card_changes_nothing(app, household, localstripe, data):
    user, statement = household
    client = signed_in(app, user)
    payment = start(client, statement.number, "30.00")
    url = f"/payments/{payment.public_id}/card"
    token = csrf_token(client, url)
    before = database_state()
    response = post(client, url, data, token)
    assert response.status_code in (200, 400, 429)
    db.session.expire_all()
    assert payment.status == "pending" and payment.amount == 3000 and payment.succeeded_at is None
    after = database_state()
    assert all(added(before, after, name) == 0 for name in before)


@pytest.fixture
def paid(app, household, localstripe):
    """A $50.00 card payment on the household's $90.00 statement, posted by the stand-in's webhook."""
    user, statement = household
    client = signed_in(app, user)
    payment, _response = pay(client, localstripe, statement.number, "50.00")
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    body = json.dumps(event).encode()
    assert client.post("/stripe/webhook", data=body, content_type="application/json",
                       headers={"Stripe-Signature": sign_webhook(body)}).status_code == 200
    db.session.expire_all()
    assert payment.status == "succeeded"
    return payment


@fuzz(30)
@given(data=form(amount=st.one_of(st.sampled_from(["0.01", "1", "$0.50", "50.01", "60", "0", "-1", "1e1"]),
                                  AMOUNTS),
                 reason=st.one_of(st.just("Billed twice"), VALUE), attempt=ATTEMPTS))
def test_the_refund_form_never_fails_and_refunds_never_exceed_the_payment(app, make, paid, data):
    supervisor = db.session.scalar(select(User).where(User.email == "boss@example.org")) \
        or make.user("boss@example.org", role="supervisor")
    client = signed_in(app, supervisor)
    url = f"/staff/payments/{paid.public_id}/refund"
    page = client.get(url)
    assert page.status_code in (200, 404)
    token = csrf_token(client, url) if page.status_code == 200 else "no-token"
    outcome = attempt(client, url, data, token)
    if outcome is None:
        return
    response, before, after = outcome
    assert added(before, after, "refunds") <= 1
    db.session.expire_all()
    refunds = list(db.session.scalars(select(Refund).where(Refund.payment_id == paid.id)))
    assert all(isinstance(r.amount, int) and r.amount > 0 for r in refunds)
    assert paid.amount_refunded == sum(r.amount for r in refunds) <= paid.amount


@pytest.mark.parametrize("address", ["/staff/payments/review/{}", "/staff/mail/{}/send-again"])
@pytest.mark.parametrize("number", ["{id}", "0", "99999", str(2**31), str(2**63 - 1), str(2**63), str(10**30), "-1", "1.5",
                                    "abc"])
def test_any_number_in_a_staff_button_address_is_never_a_server_error(app, make, address, number):
    event = StripeEvent(event_id="evt_fuzz", type="charge.dispute.created", review_reason="a dispute")
    db.session.add(event)
    db.session.commit()
    client = signed_in(app, make.user("boss@example.org", role="supervisor"))
    token = csrf_token(client, "/staff/payments/review")
    before = database_state()
    response = post(client, address.format(number.replace("{id}", str(event.id))), {}, token)
    if refused(response):
        assert database_state() == before
    else:
        assert changed_tables(before, database_state()) == {"stripe_events"}


# --------------------------------------------------------------------------------------------- questions

LINES = st.one_of(st.sampled_from(["{line}", "", "0", "²", "١", str(2**31), str(2**40), str(2**63), str(10**30), "-1",
                                   "1.0", "{line} "]),
                  st.text(max_size=8))


@fuzz(50)
@given(as_guest=st.booleans(), line=LINES,
       data=form(topic=st.sampled_from(list(TOPIC_CHOICES)), message=st.one_of(st.just("Why?"), VALUE),
                 language=st.sampled_from(["en", "es", "zh_Hans", "vi", "ar", "bg"]),
                 contact_method=st.sampled_from(["email", "phone"]), email=EMAILS,
                 phone=st.one_of(st.just("+1 555 0100"), VALUE)))
@example(as_guest=False, line="²", data={"topic": "charges", "message": "Why?", "language": "en",
                                          "contact_method": "email", "email": "pat@example.org"})
@example(as_guest=False, line=str(10**30), data={"topic": "charges", "message": "Why?", "language": "en",
                                                  "contact_method": "email", "email": "pat@example.org"})
def test_asking_a_question_never_fails_and_stores_one_whole_question_or_none(app, household, staff, as_guest, line,
                                                                              data):
    user, statement = household
    client = guest_with_quick_pay(app, statement) if as_guest else signed_in(app, user)
    line = line.replace("{line}", str(statement.visits[0].lines[0].id))
    url = f"/statements/{statement.number}/ask" + ("?" + urllib.parse.urlencode({"line": line}) if line else "")
    page = client.get(url)
    assert page.status_code < 500
    outcome = attempt(client, url, data, csrf_token(client, url) if page.status_code == 200 else "no-token")
    if outcome is None:
        return
    response, before, after = outcome
    assert added(before, after, "questions") == 1 and added(before, after, "question_messages") == 1
    assert added(before, after, "question_assignments") <= 1
    question = db.session.scalar(select(Question).order_by(Question.id.desc()))
    assert question.topic in TOPIC_CHOICES and question.language in app.config["QUESTION_LANGUAGES"]
    [message] = question.messages
    assert message.body == first(data["message"]).replace("\r\n", "\n").strip()
    assert question.asked_by_user_id == (None if as_guest else user.id)


@fuzz(40)
@given(data=form(message=st.one_of(st.just("Thanks, and one more thing."), VALUE)))
def test_a_patients_reply_never_fails_and_adds_one_message_or_none(app, household, question, data):
    user, _statement = household
    client = signed_in(app, user)
    url = f"/questions/{question.public_id}"
    outcome = attempt(client, url, data)
    if outcome is None:
        return
    response, before, after = outcome
    assert added(before, after, "question_messages") == 1
    assert changed_tables(before, after) <= {"question_messages", "questions", "question_assignments"}
    body = db.session.scalar(select(QuestionMessage.body).order_by(QuestionMessage.id.desc()))
    assert body == first(data["message"]).replace("\r\n", "\n").strip()


@fuzz(40)
@given(data=form(**{"reply-message": st.one_of(st.just("We corrected it."), VALUE),
                    "reply-kind": st.sampled_from(["reply", "note"])}))
def test_a_staff_reply_never_fails_and_adds_one_message_or_none(app, staff, question, data):
    client = signed_in(app, staff["Patricia"])
    url = f"/staff/questions/{question.public_id}"
    outcome = attempt(client, url, data)
    if outcome is None:
        return
    response, before, after = outcome
    assert added(before, after, "question_messages") == 1
    assert changed_tables(before, after) <= {"question_messages", "questions", "outgoing_mail"}
    assert added(before, after, "outgoing_mail") <= 1


@fuzz(30)
@given(data=form(**{"status-status": st.sampled_from(list(STATUSES))}))
def test_the_status_form_never_fails_and_sets_only_a_known_status(app, staff, question, data):
    client = signed_in(app, staff["Patricia"])
    url = f"/staff/questions/{question.public_id}"
    outcome = attempt(client, url + "/status", data, csrf_token(client, url))
    if outcome is None:
        return
    response, before, after = outcome
    assert changed_tables(before, after) <= {"questions"}
    db.session.refresh(question)
    assert question.status == first(data["status-status"]) in STATUSES


@fuzz(40)
@given(pick=st.sampled_from(["Maria", "James", "Patricia", None]),
       data=form(**{"reassign-staff": st.sampled_from(["{id}", "0", "-1", str(2**31), str(2**63), str(10**30), "1.0", " 1"]),
                    "reassign-reason": st.one_of(st.just("Speaks Spanish"), VALUE)}))
def test_reassigning_never_fails_and_gives_the_question_to_someone_active(app, staff, question, pick, data):
    if "reassign-staff" in data and pick:
        data["reassign-staff"] = str(staff[pick].id) if data["reassign-staff"] == "{id}" else data["reassign-staff"]
    client = signed_in(app, staff["Patricia"])
    url = f"/staff/questions/{question.public_id}"
    db.session.refresh(question)
    previous = question.assigned_staff_id
    outcome = attempt(client, url + "/reassign", data, csrf_token(client, url))
    if outcome is None:
        return
    response, before, after = outcome
    assert added(before, after, "question_assignments") == 1
    assert changed_tables(before, after) <= {"questions", "question_assignments"}
    db.session.refresh(question)
    assert question.assigned_staff_id != previous
    assert db.session.get(StaffProfile, question.assigned_staff_id).active


DATES = st.one_of(st.dates().map(date.isoformat), st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30",
                                                                    "12/31/2026", "2026-1-1"]), VALUE)


@fuzz(50)
@given(data=form(languages=st.sampled_from(["en", "en, es", "zh_Hans", "xx", "en,,es", "es-MX", "und", "root"]),
                 topics=st.lists(st.sampled_from(list(TOPIC_CHOICES)), max_size=3),
                 departments=st.one_of(st.just("Emergency, Radiology"), VALUE), away_from=DATES, away_until=DATES,
                 active=st.sampled_from(["y", "on", "1", ""])))
@example(data={"languages": "en", "away_from": "9999-12-31", "away_until": "9999-12-31"})
@example(data={"languages": "en", "away_from": "0001-01-01", "away_until": "0001-01-01"})
def test_the_roster_form_never_fails_and_saves_a_whole_profile_or_nothing(app, staff, question, data):
    maria = staff["Maria"]
    client = signed_in(app, staff["Patricia"])
    url = f"/staff/roster/{maria.id}"
    outcome = attempt(client, url, data)
    if outcome is None:
        return
    response, before, after = outcome
    assert changed_tables(before, after) <= {"staff_profiles", "questions", "question_assignments"}
    profile = db.session.get(StaffProfile, maria.id)
    db.session.refresh(profile)
    assert profile.languages == split_list(first(data["languages"])) and profile.languages
    assert set(profile.topics) <= set(TOPIC_CHOICES)
    if profile.away_from and profile.away_until:
        assert profile.away_from <= profile.away_until
    # Put Maria back for the next example.
    profile.languages, profile.topics, profile.active = ["en", "es"], ["charges", "insurance"], True
    profile.away_from = profile.away_until = None
    db.session.commit()


@pytest.mark.parametrize("user_id", ["0", str(2**31), str(2**63), str(10**30), "-1"])
def test_the_roster_of_anyone_unknown_is_not_found(app, staff, user_id):
    client = signed_in(app, staff["Patricia"])
    response = client.get(f"/staff/roster/{user_id}")
    assert response.status_code == 404


# ----------------------------------------------------------------------------------- searches (GET forms)

@fuzz(40)
@given(supervisor=st.booleans(), q=st.one_of(st.just("{number}"), VALUE), extra=st.dictionaries(NAMES, VALUE,
                                                                                                max_size=2))
def test_the_statement_search_never_fails_and_writes_nothing(app, household, staff, question, supervisor, q, extra):
    _user, statement = household
    client = signed_in(app, staff["Patricia" if supervisor else "James"])
    before = database_state()
    response = client.get("/staff/statements", query_string={**extra, "q": q.replace("{number}", statement.number)})
    assert response.status_code in (200, 400)
    assert database_state() == before


@fuzz(40)
@given(q=st.one_of(st.sampled_from(["copay", "Co-Pay", "deducible", "ĐỒNG", "الخصم"]), VALUE),
       name=st.one_of(st.just("copay"), VALUE))
def test_the_glossary_search_never_fails(app, glossary, client, q, name):
    assert client.get("/glossary", query_string={"q": q}).status_code in (200, 400)
    # 308: a doubled slash is merged first.
    assert client.get("/glossary/" + urllib.parse.quote(name, safe="")).status_code in (302, 308, 400, 404)


# ------------------------------------------------------------------------------------------- the webhook

# What a header can carry at all (no newlines; Latin-1, as HTTP sends it).
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=80)


@fuzz(40)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.just(b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}')),
       signature=st.one_of(st.none(), HEADER_TEXT, st.sampled_from(["t=1,v1=00", "v1=", "t=,v1=,v0=",
                                                                             "t=99999999999999999999,v1=ab"])))
def test_the_webhook_refuses_any_unsigned_body_with_400_and_stores_nothing(app, client, body, signature):
    before = database_state()
    headers = {} if signature is None else {"Stripe-Signature": signature}
    response = client.post("/stripe/webhook", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert database_state() == before


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.text(max_size=12)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
# An object with Stripe's field names and values of any type, as a broken or future API version might send.
STRIPE_OBJECT = st.fixed_dictionaries({}, optional={name: JSON for name in (
    "id", "object", "amount", "amount_refunded", "currency", "status", "metadata", "payment_intent", "charge",
    "latest_charge", "last_payment_error", "created", "refunds", "paid", "reason")})
EVENT_TYPES = st.sampled_from(["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
                               "charge.dispute.created", "setup_intent.succeeded", "x"])


@fuzz(40)
@given(event=st.fixed_dictionaries({"id": st.text(min_size=1, max_size=30).map(lambda s: "evt_" + s),
                                    "type": EVENT_TYPES},
                                   optional={"data": st.one_of(JSON, st.fixed_dictionaries({"object": JSON}),
                                                               st.fixed_dictionaries({"object": STRIPE_OBJECT})),
                                             "object": st.just("event"), "created": JSON}))
@example(event={"id": "evt_list", "type": "charge.refunded", "data": {"object": []}})
@example(event={"id": "evt_time", "type": "payment_intent.succeeded", "data": {"object": {}}, "created": {}})
@example(event={"id": "evt_amount", "type": "payment_intent.succeeded",
                "data": {"object": {"id": "pi_x", "amount": {"a": 1}, "metadata": [1]}}})
@example(event={"id": "evt_refunds", "type": "charge.refunded",
                "data": {"object": {"id": "ch_x", "payment_intent": [], "metadata": "x", "refunds": []}}})
def test_a_signed_event_of_any_shape_is_stored_once_or_refused_never_a_server_error(app, client, household, event):
    before = database_state()
    body = json.dumps(event).encode()
    response = client.post("/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign_webhook(body)})
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    after = database_state()
    if refused(response):
        assert after == before
    else:
        assert changed_tables(before, after) <= {"stripe_events"} and added(before, after, "stripe_events") <= 1


# ------------------------------------------------------------------------------------------- the importers

IMPORTED = (ImportedClaim, LineItem, Visit, Statement, Patient, Account)


def check_imported() -> None:
    """Every imported line is whole: integer amounts, none negative, at most the largest a line may hold, and
    the insurer's and the patient's parts adding up to the charge."""
    for line in db.session.scalars(select(LineItem)):
        amounts = [line.charge, line.insurance_paid, line.adjustment, line.deductible, line.copay, line.coinsurance,
                   line.not_covered]
        assert all(isinstance(a, int) and 0 <= a <= 2_147_483_647 for a in amounts), amounts
        if line.allowed is None:
            assert line.adjustment <= line.charge
        else:
            assert line.allowed <= line.charge
            assert sum(amounts[1:]) == line.charge
    for visit in db.session.scalars(select(Visit)):
        assert visit.statement is not None and visit.patient is not None


def import_once(unit, organisation) -> None:  # noqa: ANN001
    """Load ``unit`` as the command does; BadInput leaves no row, success is whole and idempotent."""
    from portal.imports import services
    from portal.imports.records import BadInput

    before = database_state()
    try:
        counts = services.load_unit(unit, organisation)
    except BadInput as error:
        event("refused by the loader")
        db.session.rollback()
        assert error.reason
        assert database_state() == before
        return
    event("imported")
    db.session.commit()
    check_imported()
    imported = database_state()
    again = services.load_unit(unit, db.session.get(type(organisation), organisation.id))
    db.session.commit()
    assert again.claims_created == again.lines_created == again.accounts_created == again.patients_created == 0
    assert database_state() == imported, counts


def _forget_imports() -> None:
    db.session.rollback()
    for model in IMPORTED:
        db.session.query(model).delete()
    db.session.commit()


@pytest.fixture
def hospital(make):
    return make.organisation()


def read_fhir(document, hospital):  # noqa: ANN001, ANN201
    from portal.imports.cli import hospital_facts
    from portal.imports.fhir import unit_from_document
    from portal.imports.records import BadInput

    try:
        return unit_from_document(document, "fuzz.json", hospital_facts(hospital))
    except BadInput as error:
        # The reader turns a Python error on an odd shape into BadInput by design; counted apart.
        event("refused by the reader" + (" (wrong shape)" if error.reason.startswith("a resource of the wrong")
                                         else ""))
        assert error.reason
        return None


@fuzz(60)
@given(document=st.one_of(JSON, st.fixed_dictionaries({"resourceType": st.sampled_from(
    ["Bundle", "Patient", "ExplanationOfBenefit", "Claim", "Encounter", "Coverage"])}, optional={
        "type": st.sampled_from(["collection", "transaction", "batch", "searchset", "document", 3]),
        "entry": JSON, "id": JSON, "item": JSON, "patient": JSON, "birthDate": JSON, "name": JSON})))
def test_any_json_document_is_imported_whole_or_refused(hospital, document):
    unit = read_fhir(document, hospital)
    if unit is not None:
        import_once(unit, hospital)
    _forget_imports()


_BUNDLE = fb.checkup_bundle()
_PLACES = list(_paths(_BUNDLE))[1:]
ODD_FHIR = st.one_of(
    st.sampled_from([None, "", [], {}, 0, -1, True, "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31",
                     "9999-12-31T23:59:59+14:00", "2026-10-05T25:00:00Z", "10/05/2026", "urn:uuid:nope", "Patient/",
                     "#", "#missing", "http://example.org/fhir/Patient/p1", "Patient/p1/_history/1", "urn:uuid:",
                     Decimal("1E+400"), Decimal("-140.52"), Decimal("21474836.48"), Decimal("0.005"),
                     Decimal("1e-30"), Decimal("-0"), 10**30, -10**30, 1e308, "140.52", "EUR", "usd", "NaN"]),
    JSON)


def mutate(document, place: tuple, action: str, value) -> None:  # noqa: ANN001
    """Drop or replace what sits at ``place`` (keys and positions) in ``document``, if it is still there."""
    target = document
    try:
        for step in place[:-1]:
            target = target[step]
        if action == "drop":
            del target[place[-1]]
        else:
            target[place[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass  # an earlier mutation took this place away


@fuzz(60)
@given(mutations=st.lists(st.tuples(st.sampled_from(_PLACES), st.sampled_from(["drop", "replace"]), ODD_FHIR),
                          min_size=1, max_size=3))
@example(mutations=[(_PLACES[-1], "replace", "\x00")])
def test_a_mutated_bundle_is_imported_whole_or_refused(hospital, mutations):
    document = copy.deepcopy(_BUNDLE)
    for place, action, value in mutations:
        mutate(document, place, action, value)
    unit = read_fhir(document, hospital)
    if unit is not None:
        import_once(unit, hospital)
    _forget_imports()


def read_csv(text: str, hospital):  # noqa: ANN001, ANN201
    from portal.imports.cli import hospital_facts
    from portal.imports.csv_rows import unit_from_csv_text
    from portal.imports.records import BadInput

    try:
        return unit_from_csv_text(text, "fuzz.csv", hospital_facts(hospital))
    except BadInput as error:
        event("refused by the reader")
        assert error.reason
        return None


@fuzz(40)
@given(text=st.one_of(st.text(max_size=400), st.text(max_size=300).map(
    lambda t: SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0] + "\n" + t)))
def test_any_text_as_csv_is_imported_whole_or_refused(hospital, text):
    unit = read_csv(text, hospital)
    if unit is not None:
        import_once(unit, hospital)
    _forget_imports()


_ROWS = list(csv.reader(io.StringIO(SAMPLE_CSV.read_text(encoding="utf-8"), newline="")))
ODD_CELLS = st.one_of(
    st.sampled_from(["", " ", "-1", "-0", "1e9", "1E+400", "0.001", "21474836.48", "99999999999999999999", "١٢٣",
                     "12,34.5", "NaN", "Infinity", "2026-02-30", "9999-12-31", "0001-01-01", "10/14/2026", "²",
                     "cancelled", "CANCELLED", "active", "local", "ICD", "EUR", "usd", "zh-Hans", "ar", "xx", "0",
                     "100000", "100001", "00510", "A-7001", "A-7002", "M-55001", "V-9001", "8800123401",
                     "8800-1234-01", "\x00", '"', "a\nb"]), VALUE)


@fuzz(60)
@given(mutations=st.lists(st.tuples(st.sampled_from(["cell", "cell", "cell", "drop_column", "add_column",
                                                     "copy_row", "drop_row"]),
                                    st.integers(0, len(_ROWS) - 1), st.integers(0, len(_ROWS[0]) - 1), ODD_CELLS),
                          min_size=1, max_size=4))
@example(mutations=[("cell", 3, 0, "\x00")])  # PostgreSQL cannot store a NUL: refused, never a database error
def test_a_mutated_csv_file_is_imported_whole_or_refused(hospital, mutations):
    rows = copy.deepcopy(_ROWS)
    for action, row, column, value in mutations:
        row, column = min(row, len(rows) - 1), min(column, len(rows[0]) - 1)
        if action == "cell":
            rows[row][column] = value
        elif action == "drop_column":
            for cells in rows:
                del cells[column:column + 1]
        elif action == "add_column":
            for cells in rows:
                cells.insert(column, value)
        elif action == "copy_row" and row:
            rows.append(list(rows[row]))
        elif action == "drop_row" and row and len(rows) > 2:
            del rows[row]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    unit = read_csv(out.getvalue(), hospital)
    if unit is not None:
        import_once(unit, hospital)
    _forget_imports()


_RESOURCES = [entry["resource"] for entry in _BUNDLE["entry"]]
_RESOURCE_PLACES = [(position, path) for position, resource in enumerate(_RESOURCES)
                    for path in list(_paths(resource))[1:]]


@fuzz(50)
@given(mutations=st.lists(st.tuples(st.sampled_from(_RESOURCE_PLACES), st.sampled_from(["drop", "replace"]),
                                    ODD_FHIR), min_size=1, max_size=3),
       extra_lines=st.lists(st.one_of(st.text(max_size=40), JSON.map(json.dumps)), max_size=2))
def test_mutated_ndjson_files_are_imported_per_patient_whole_or_refused(hospital, tmp_path, mutations, extra_lines):
    from portal.imports.cli import hospital_facts
    from portal.imports.fhir import units_from_paths
    from portal.imports.records import BadInput

    resources = copy.deepcopy(_RESOURCES)
    for (position, place), action, value in mutations:
        mutate(resources[position], place, action, value)
    path = tmp_path / "export.ndjson"
    lines = [json.dumps(resource, default=str) for resource in resources] + extra_lines
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n", encoding="utf-8")
    for unit in units_from_paths([str(path)], hospital_facts(hospital)):
        if isinstance(unit, BadInput):
            event("refused by the reader")
            # The reader's last resort catches anything; reaching it is a bug all the same.
            assert "unexpected error" not in unit.reason, unit.reason
        else:
            import_once(unit, hospital)
    _forget_imports()
