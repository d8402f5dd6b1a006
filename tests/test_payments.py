"""Paying a statement by card through the app and the local Stripe stand-in: amounts, the card flow,
3-D Secure, declines, receipts, history, and what happens when Stripe cannot be reached."""
from __future__ import annotations

import pytest

from portal.billing.services import summary_for
from portal.extensions import db
from portal.payments.models import Payment, StripeEvent

from .payflow import (DECLINED_AT_CHARGE, DECLINED_AT_SETUP, GOOD_CARD, NEEDS_3DS, authenticate, card_page, events_for, pay, start,
                      submit_card, set_up_card)



def _succeeded(statement) -> list[Payment]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Payment).where(Payment.statement_id == statement.id,
                                                            Payment.status == "succeeded")))


def test_a_patient_pays_part_of_a_statement_and_the_webhook_posts_it_once(
        client, login_as, household, localstripe, deliver, smtp_server, app):
    user, statement = household
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    login_as(user)
    assert "Pay this bill" in client.get(f"/statements/{statement.number}").get_data(as_text=True)
    payment, response = pay(client, localstripe, statement.number, "25.00", email="pat@example.org")
    assert response.status_code == 302 and response.headers["Location"] == f"/payments/{payment.public_id}"
    assert payment.status == "pending" and payment.amount == 2500 and payment.card_last4 == "4242"

    # Until Stripe's webhook arrives, the page says it is processing and nothing is posted.
    waiting = client.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    assert "Processing your payment" in waiting
    assert summary_for(statement).amount_due.minor == 9000

    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    assert deliver(event).status_code == 200
    assert deliver(event).get_json() == {"received": True, "duplicate": True}
    db.session.expire_all()
    assert payment.status == "succeeded" and payment.succeeded_at is not None
    assert summary_for(statement).amount_due.minor == 6500
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) == 1

    receipt = client.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    for text in ("Payment receipt", "$25.00", "Visa ending in 4242", statement.number, "$65.00", "CST"):
        assert text in receipt
    [(_sender, recipients, message)] = smtp_server.messages
    assert recipients == ["pat@example.org"]
    for text in ("$25.00", "Visa ending in 4242", statement.number, "$65.00"):
        assert text in message
    # Card numbers never reach the portal: only the last four digits are stored.
    assert GOOD_CARD not in message and GOOD_CARD not in receipt

    history = client.get("/payments").get_data(as_text=True)
    assert "$25.00" in history and statement.number in history
    assert f"/payments/{payment.public_id}" in client.get(f"/statements/{statement.number}").get_data(as_text=True)


def test_a_double_click_starts_one_payment_and_one_payment_intent(client, login_as, household, localstripe):
    user, statement = household
    login_as(user)
    first = start(client, statement.number, "10.00", attempt="same-form-sent-twice-000")
    second = start(client, statement.number, "10.00", attempt="same-form-sent-twice-000")
    assert first.id == second.id
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 1
    card_page(client, first)
    card_page(client, first)
    db.session.expire_all()
    assert first.stripe_payment_intent_id and first.stripe_payment_intent_id == second.stripe_payment_intent_id


def test_the_full_amount_as_a_quick_pay_guest(client, make, submit, localstripe, deliver):
    from datetime import date

    account = make.account()
    make.patient(account, "Alex", "Guarantor", date(1980, 5, 17))
    statement = make.statement(account, lines=2)
    assert submit("/quick-pay", {"statement_number": statement.number,
                                 "date_of_birth": "05/17/1980"}).status_code == 302
    payment, response = pay(client, localstripe, statement.number)
    assert response.status_code == 302 and payment.amount == 6000 and payment.paid_by_user_id is None
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    deliver(event)
    assert summary_for(statement).amount_due.minor == 0
    page = client.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    assert "Payment receipt" in page and "$0.00" in page
    # Paid in full: the pay form says so instead of taking more money.
    again = client.get(f"/statements/{statement.number}/pay").get_data(as_text=True)
    assert "already paid in full" in again


@pytest.mark.parametrize("typed, message", [
    ("0", "more than zero"),
    ("-5", "more than zero"),
    ("abc", "as a number"),
    ("1e3", "as a number"),
    ("10.005", "no more digits after the decimal point"),
    ("90.01", "You can pay up to $90.00"),
    ("0.50", "The smallest payment we can take is $1.00"),
    ("", "Enter the amount you want to pay"),
])
def test_amounts_that_cannot_be_paid_get_a_clear_message_and_no_payment_intent(
        client, submit, login_as, household, typed, message):
    user, statement = household
    login_as(user)
    response = submit(f"/statements/{statement.number}/pay", {"choice": "other", "other_amount": typed,
                                                               "attempt": "a" * 24})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_amounts_are_read_in_the_patients_own_number_format(client, submit, login_as, household):
    user, statement = household
    login_as(user)
    response = submit(f"/statements/{statement.number}/pay", {"choice": "other", "other_amount": "$1,0.5",
                                                               "attempt": "b" * 24})
    assert response.status_code == 400  # a misplaced thousands separator is not guessed at
    response = submit(f"/statements/{statement.number}/pay", {"choice": "other", "other_amount": " $12.5 ",
                                                               "attempt": "c" * 24})
    assert response.status_code == 302
    assert db.session.scalar(db.select(Payment.amount)) == 1250


def test_a_balance_below_the_minimum_can_still_be_paid_in_full(client, submit, login_as, household, make):
    user, statement = household
    make.payment(statement, 8950)
    login_as(user)
    response = submit(f"/statements/{statement.number}/pay", {"choice": "other", "other_amount": "0.50",
                                                               "attempt": "d" * 24})
    assert response.status_code == 302


def test_a_paid_statement_cannot_be_paid_again(client, submit, login_as, household, make):
    user, statement = household
    make.payment(statement, 9000)
    login_as(user)
    assert "Pay this bill" not in client.get(f"/statements/{statement.number}").get_data(as_text=True)
    response = submit(f"/statements/{statement.number}/pay", {"choice": "full", "attempt": "e" * 24})
    assert response.status_code == 400 and "already paid in full" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 1


def test_a_card_declined_at_charge_posts_nothing_and_says_why(client, login_as, household, localstripe, deliver):
    user, statement = household
    login_as(user)
    payment, response = pay(client, localstripe, statement.number, "30.00", card=DECLINED_AT_CHARGE)
    assert response.status_code == 302
    assert payment.status == "failed" and payment.failure_code == "card_declined"
    page = client.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    assert "Payment not taken" in page and "Your card was declined" in page and "Try again" in page
    # Stripe's own report of the failure changes nothing more.
    for event in events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.payment_failed"):
        assert deliver(event).status_code == 200
    assert _succeeded(statement) == [] and summary_for(statement).amount_due.minor == 9000
    assert "Not taken" in client.get("/payments").get_data(as_text=True)


def test_a_card_declined_at_setup_never_reaches_the_portal(client, login_as, household, localstripe):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "30.00")
    _html, secret, _mode = card_page(client, payment)
    status, body = set_up_card(localstripe, secret, DECLINED_AT_SETUP)
    assert status == 402 and body["error"]["code"] == "card_declined"
    # The browser never sends a SetupIntent that did not succeed; a forged one is refused.
    response = submit_card(client, payment, secret.split("_secret_")[0])
    assert response.status_code == 400 and "We could not use that card" in response.get_data(as_text=True)
    db.session.expire_all()
    assert payment.status == "pending" and _succeeded(statement) == []


def test_another_accounts_card_cannot_pay_this_payment(client, login_as, household, localstripe, make):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "30.00")
    card_page(client, payment)
    from portal.payments import stripe_gateway

    other = make.account("Someone Else")
    customer = stripe_gateway.ensure_customer(other.guarantor_name, other.number, "other-customer-key")
    _id, secret = stripe_gateway.create_setup_intent(customer=customer, metadata={"portal_payment": payment.public_id})
    set_up_card(localstripe, secret, GOOD_CARD)
    response = submit_card(client, payment, secret.split("_secret_")[0])
    assert response.status_code == 400
    db.session.expire_all()
    assert payment.status == "pending"


@pytest.mark.parametrize("completed", [True, False])
def test_3d_secure_is_completed_in_the_browser(client, login_as, household, localstripe, deliver, completed):
    user, statement = household
    login_as(user)
    payment, response = pay(client, localstripe, statement.number, "40.00", card=NEEDS_3DS)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-mode="authenticate"' in html
    secret = html.split('data-client-secret="')[1].split('"')[0]
    assert secret.startswith(payment.stripe_payment_intent_id)
    status, _body = authenticate(localstripe, secret, success=completed)
    assert status == 200
    page = client.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    db.session.expire_all()
    if completed:
        [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
        deliver(event)
        assert [p.id for p in _succeeded(statement)] == [payment.id]
        assert summary_for(statement).amount_due.minor == 5000
    else:
        assert "Payment not taken" in page and "could not confirm" in page
        assert payment.status == "failed" and _succeeded(statement) == []


def test_a_late_webhook_does_not_leave_the_patient_waiting(client, login_as, household, localstripe, app):
    user, statement = household
    login_as(user)
    app.config["STRIPE_WEBHOOK_GRACE_SECONDS"] = 0
    payment, _response = pay(client, localstripe, statement.number, "20.00")
    # No webhook delivered: past the grace period the page asks Stripe, which says the payment succeeded.
    assert client.get(f"/payments/{payment.public_id}/status.json").get_json() == {"status": "succeeded"}
    assert [p.id for p in _succeeded(statement)] == [payment.id]


def test_stripe_unreachable_gets_a_calm_message_and_posts_nothing(make_app, make, localstripe):
    app = make_app(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_TIMEOUT=1)
    from .conftest import csrf_token

    with app.app_context():
        account = make.account()
        statement = make.statement(account, lines=1)
        make.user(accounts=[account])
        client = app.test_client()
        client.post("/login", data={"email": "pat@example.org", "password": "correct horse battery",
                                    "csrf_token": csrf_token(client, "/login")})
        response = client.post(f"/statements/{statement.number}/pay", data={
            "choice": "full", "attempt": "f" * 24, "csrf_token": csrf_token(client, f"/statements/{statement.number}/pay")})
        assert response.status_code == 503
        assert "Nothing was charged" in response.get_data(as_text=True)
        payment = db.session.scalar(db.select(Payment))
        assert payment.status == "pending" and payment.stripe_payment_intent_id is None
        assert summary_for(statement).amount_due.minor == 3000


def test_without_stripe_keys_the_statement_says_to_call(make_app, make):
    app = make_app(STRIPE_SECRET_KEY="", STRIPE_PUBLISHABLE_KEY="")
    with app.app_context():
        statement = make.statement(lines=1)
        client = app.test_client()
        from .conftest import csrf_token

        make.user(accounts=[statement.account])
        client.post("/login", data={"email": "pat@example.org", "password": "correct horse battery",
                                    "csrf_token": csrf_token(client, "/login")})
        page = client.get(f"/statements/{statement.number}").get_data(as_text=True)
        assert "Card payments are not available right now" in page and "Pay this bill" not in page
        assert client.get(f"/statements/{statement.number}/pay").status_code == 503


def test_the_card_page_allows_stripe_and_nothing_else(client, login_as, household, localstripe):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "10.00")
    response = client.get(f"/payments/{payment.public_id}/card")
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {localstripe}" in policy and "unsafe-inline" not in policy
    assert "https://hooks.stripe.com" in policy
    # Every other page keeps the strict policy.
    assert localstripe not in client.get(f"/statements/{statement.number}").headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert 'name="card' not in html and "<label" not in html.split('id="card-element"')[1].split("</div>")[0]


def test_a_made_up_setup_intent_is_refused_not_a_server_error(client, login_as, household, localstripe):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "30.00")
    for made_up in ("seti_doesnotexist", "../../v1/customers", "x" * 200):
        response = submit_card(client, payment, made_up)
        assert response.status_code == 400, made_up
        assert "We could not use that card" in response.get_data(as_text=True)
    db.session.expire_all()
    assert payment.status == "pending"


def test_paying_someone_elses_statement_is_404_even_with_a_valid_form(client, submit, make, login_as, household):
    _user, victim = household
    other = make.statement(make.account("Other Household"), lines=1)
    login_as(make.user("other@example.org", accounts=[other.account]))
    response = submit(f"/statements/{victim.number}/pay", {"choice": "full", "attempt": "g" * 24},
                      page=f"/statements/{other.number}/pay")
    assert response.status_code == 404
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_the_status_of_a_payment_whose_card_was_never_sent_goes_back_to_the_card(client, login_as, household):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "30.00")
    response = client.get(f"/payments/{payment.public_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/payments/{payment.public_id}/card"


def test_a_customer_stripe_no_longer_knows_is_made_again(client, login_as, household, localstripe, deliver):
    """As after switching from test keys to live ones, or a Customer deleted in Stripe's dashboard."""
    user, statement = household
    statement.account.stripe_customer_id = "cus_made_with_other_keys"
    db.session.commit()
    login_as(user)
    payment, response = pay(client, localstripe, statement.number, "10.00")
    assert response.status_code == 302 and payment.stripe_payment_intent_id
    db.session.expire_all()
    assert statement.account.stripe_customer_id.startswith("cus_")
    assert statement.account.stripe_customer_id != "cus_made_with_other_keys"


def test_stripe_lost_while_charging_says_the_payment_may_show_up(client, login_as, household, localstripe, app):
    user, statement = household
    login_as(user)
    payment = start(client, statement.number, "10.00")
    _html, secret, _mode = card_page(client, payment)
    status, setup = set_up_card(localstripe, secret, GOOD_CARD)
    app.config.update(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_TIMEOUT=1)
    from .conftest import csrf_token

    response = client.post(f"/payments/{payment.public_id}/card", data={
        "setup_intent": setup["id"], "csrf_token": csrf_token(client, "/payments")})
    assert response.status_code == 503
    assert "If the payment went through, it shows on your statement" in response.get_data(as_text=True)
    db.session.expire_all()
    assert payment.status == "pending" and _succeeded(statement) == []


def test_repeated_declines_pause_the_card_form(client, login_as, household, localstripe, app):
    """Someone testing stolen cards on a bill gets a few tries, then a pause; a patient rarely needs more."""
    user, statement = household
    login_as(user)
    app.config["CARD_DECLINE_LIMIT"] = "2 per hour"
    for _try in range(2):
        payment, response = pay(client, localstripe, statement.number, "10.00", card=DECLINED_AT_CHARGE)
        assert response.status_code == 302 and payment.status == "failed"
    payment = start(client, statement.number, "10.00")
    _html, secret, _mode = card_page(client, payment)
    _status, setup = set_up_card(localstripe, secret, GOOD_CARD)
    response = submit_card(client, payment, setup["id"])
    assert response.status_code == 429 and "Too many tries" in response.get_data(as_text=True)
    db.session.expire_all()
    assert payment.status == "pending" and _succeeded(statement) == []
