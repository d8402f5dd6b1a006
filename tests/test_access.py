"""Walk every route as a second patient, a quick-pay guest of another bill and an anonymous visitor:
nothing of the first patient's may show, and their statement is 404, never 403."""
from datetime import date

import pytest

SECRET_NAMES = ("Zebulon", "Quixotic")


@pytest.fixture
def victim(make):
    account = make.account("Zebulon Quixotic", number="77777")
    make.patient(account, "Zebulon", "Quixotic", date(1961, 7, 4))
    statement = make.statement(account, lines=3, number="700700700")
    make.payment(statement, 1234, stripe_payment_intent_id="pi_victim", card_last4="4242")
    make.user("victim@example.org", accounts=[account])
    return statement


def _urls(app, statement):
    from portal.payments.models import Payment

    payment = Payment.query.filter_by(statement_id=statement.id).one()
    values = {"number": statement.number, "line_id": statement.visits[0].lines[0].id, "token": "eyJ1IjoxfQ.fake.token", "filename": "css/portal.css",
              "name": "deductible", "public_id": payment.public_id, "event_id": 1, "user_id": 1, "mail_id": 1}
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            args = {name: values[name] for name in rule.arguments}
            yield rule, url_for(rule.endpoint, **args)


def _check(client, app, victim):
    checked = 0
    for rule, url in _urls(app, victim):
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method, data={"q": victim.number})
            body = response.get_data(as_text=True)
            assert response.status_code < 500, (method, url)
            for secret in SECRET_NAMES + (victim.number, "77777", "$12.34", "4242"):
                assert secret not in body, (method, url, secret)
            if rule.endpoint in ("billing.statement", "statements.statement_pdf", "payments.pay", "payments.card", "payments.status",
                                 "payments.status_json", "disputes.dispute", "assistance.apply"):
                # A POST without the form's CSRF token stops at 400 before anything is looked up.
                assert response.status_code == (404 if method == "GET" else 400), (method, url)
            checked += 1
    assert checked >= 12
    for query in (victim.number, "Zebulon", "77777"):
        assert client.get("/staff/statements", query_string={"q": query}).status_code in (302, 404)


def test_anonymous_visitor_sees_nothing(app, client, victim):
    _check(client, app, victim)


def test_another_patient_sees_nothing(app, client, make, login_as, victim):
    other = make.statement(make.account("Other Household"), lines=1)
    login_as(make.user("other@example.org", accounts=[other.account]))
    assert client.get(f"/statements/{other.number}").status_code == 200
    _check(client, app, victim)


def test_quick_pay_guest_of_another_bill_sees_nothing(app, client, make, submit, victim):
    account = make.account("Guest Person")
    make.patient(account, "Guest", "Person", date(1999, 9, 9))
    other = make.statement(account, lines=1)
    assert submit("/quick-pay", {"statement_number": other.number,
                                 "date_of_birth": "09/09/1999"}).status_code == 302
    assert client.get(f"/statements/{other.number}").status_code == 200
    _check(client, app, victim)


def test_the_owner_does_see_it(client, make, login_as, victim):
    from portal.auth.models import User
    from portal.extensions import db

    owner = db.session.scalar(db.select(User).where(User.email == "victim@example.org"))
    login_as(owner)
    page = client.get(f"/statements/{victim.number}").get_data(as_text=True)
    assert "Zebulon Quixotic" in page and "$12.34" in page
