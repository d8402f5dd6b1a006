"""Attacks on the real app and database, through the test client: session fixation and replay, cross-site
request forgery on every POST route and forged Stripe webhooks, open redirects through ``next`` and a forged Host
header in reset emails, script and template injection in every field that is shown back, SQL injection in every
look-up, brute force around the rate limits, and a role-by-route access matrix driven by ``app.url_map``.
Nothing may get through.

Each test also counts what it tried; ``test_zz_the_suite_reports_what_it_tried`` prints the totals (``-s`` or
``-rP`` shows them). Routes are listed by name, so a new route fails here until someone says how it is guarded.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import url_for
from sqlalchemy import func, inspect, select

from portal.auth.models import User
from portal.billing.models import Statement, utcnow
from portal.assistance import uploads
from portal.assistance.models import AssistanceApplication, AssistanceDocument
from portal.disputes.models import LineDispute
from portal.extensions import db, limiter
from portal.outbox.models import OutgoingMail
from portal.payments.models import Payment, StripeEvent
from portal.plans.models import PaymentPlan, PlanCharge, PlanStatement
from portal.questions.models import Question, QuestionMessage, StaffProfile

from .conftest import csrf_token, sign_webhook

PASSWORD = "correct horse battery"
CSRF_REFUSED = "This form has expired"  # the heading of the CSRF error page (portal/errors.py)

# What was tried, by category; conftest's pytest_terminal_summary prints it at the end of the run.
TRIED: Counter = Counter()


# ------------------------------------------------------------------------------------------------ the world

@dataclass
class World:
    """A victim household and everyone who might try to see it."""

    owner: User
    other: User
    supervisor: User
    assigned: User  # billing staff given the victim's question
    unassigned: User  # billing staff given nothing of the victim's
    colleague: User  # billing staff given another question on the victim's bill
    statement: Statement
    sibling: Statement  # another bill of the victim's account, not asked about
    payment: Payment
    question: Question
    other_question: Question  # on the victim's bill, given to the colleague
    event: StripeEvent
    mail: OutgoingMail
    reset_token: str
    guest_statement: Statement
    guest_birth_date: str
    # The victim's dispute of their bill's first line, given to the assigned staff member.
    dispute: LineDispute | None = None
    # The victim's financial assistance application with a payslip, given to the assigned staff member.
    application: AssistanceApplication | None = None
    document: AssistanceDocument | None = None
    # The victim's running payment plan, covering their bill.
    plan: PaymentPlan | None = None


SECRETS = ("Zebulon", "Quixotic")


def _staff(make, email: str, name: str, role: str = "staff") -> User:
    user = make.user(email, role=role)
    db.session.add(StaffProfile(user=user, display_name=name, job_title="Billing specialist", languages=["en"],
                                topics=["charges"]))
    db.session.commit()
    return user


def _question(statement: Statement, asker: User, staff: User, body: str = "Why is this so much?",
              topic: str = "charges") -> Question:
    question = Question(account_id=statement.account_id, statement=statement, topic=topic, language="en",
                        contact_method="email", contact_email=asker.email, asked_by_user_id=asker.id,
                        assigned_staff_id=staff.id, due_at=utcnow() + timedelta(days=1))
    db.session.add(question)
    db.session.add(QuestionMessage(question=question, author_kind="patient", author_user_id=asker.id, body=body))
    db.session.commit()
    return question


@pytest.fixture
def world(app, make) -> World:
    from portal.auth.services import password_reset_token

    account = make.account("Zebulon Quixotic", number="77777")
    make.patient(account, "Zebulon", "Quixotic", date(1961, 7, 4))
    statement = make.statement(account, lines=2, number="700700700")
    sibling = make.statement(account, lines=1, number="700700701")
    payment = make.payment(statement, 1234, stripe_payment_intent_id="pi_victim", card_last4="4242",
                           succeeded_at=utcnow())
    owner = make.user("victim@example.org", accounts=[account])
    other_account = make.account("Other Household")
    make.statement(other_account, lines=1)
    other = make.user("other@example.org", accounts=[other_account])
    guest_account = make.account("Guest Person")
    make.patient(guest_account, "Guest", "Person", date(1999, 9, 9))
    guest_statement = make.statement(guest_account, lines=1)
    supervisor = _staff(make, "boss@example.org", "Patricia Okafor", "supervisor")
    assigned = _staff(make, "maria@example.org", "Maria Santos")
    unassigned = _staff(make, "james@example.org", "James Connor")
    colleague = _staff(make, "lin@example.org", "Lin Chen")
    question = _question(statement, owner, assigned)
    other_question = _question(statement, owner, colleague, "Another question")
    disputed_line = statement.visits[0].lines[0]
    dispute = LineDispute(line_item=disputed_line, statement=statement, reason="charged_twice",
                          question=_question(statement, owner, assigned, "Billed twice", topic="dispute"))
    db.session.add(dispute)
    application = AssistanceApplication(
        account_id=account.id, statement=statement, household_size=2, annual_income=2000000, currency="USD",
        guideline_year=2025, guideline=2115000, poverty_percent=94, preliminary_discount=100,
        question=_question(statement, owner, assigned, "Please help", topic="financial_assistance"))
    payslip = uploads.check("payslip.pdf", "application/pdf", b"%PDF-1.4 Zebulon Quixotic's payslip")
    document = AssistanceDocument(application=application, kind="pdf", stored_name=uploads.store(payslip),
                                  filename=payslip.filename, size=len(payslip.data), sha256=payslip.sha256)
    db.session.add_all([application, document])
    event = StripeEvent(event_id="evt_not_ours", type="payment_intent.succeeded", object_id="pi_not_ours",
                        review_reason="pi_not_ours is not a payment of this portal")
    mail = OutgoingMail(kind="receipt", recipient="victim@example.org", subject="Receipt", body="Thank you.",
                        status="failed", attempts=5, last_error="550 no such mailbox")
    db.session.add_all([event, mail])
    plan = PaymentPlan(account=account, status="active", currency="USD", day_of_month=10, email=owner.email,
                       stripe_payment_method_id="pm_victim", card_brand="visa", card_last4="4242",
                       created_by_user_id=owner.id, activated_at=utcnow())
    db.session.add_all([plan, PlanStatement(plan=plan, statement=statement, amount=4766),
                        PlanCharge(plan=plan, due_on=date.today() + timedelta(days=40), amount=4766,
                                   next_attempt_on=date.today() + timedelta(days=40))])
    db.session.commit()
    return World(owner, other, supervisor, assigned, unassigned, colleague, statement, sibling, payment, question,
                 other_question, event, mail, password_reset_token(owner, app.config["SECRET_KEY"]),
                 guest_statement, "09/09/1999", dispute, application, document, plan)


def _sign_in(client, user: User, password: str = PASSWORD, **kwargs):
    response = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_token(client, "/login")}, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def _open_as_guest(client, world: World) -> None:
    response = client.post("/quick-pay", data={"statement_number": world.guest_statement.number,
                                               "date_of_birth": world.guest_birth_date,
                                               "csrf_token": csrf_token(client, "/quick-pay")})
    assert response.status_code == 302


ROLES = ("anonymous", "other_patient", "guest", "unassigned_staff", "assigned_staff", "owner", "supervisor")


def _client_as(app, world: World, role: str):
    client = app.test_client()
    users = {"other_patient": world.other, "unassigned_staff": world.unassigned, "assigned_staff": world.assigned,
             "owner": world.owner, "supervisor": world.supervisor}
    if role in users:
        _sign_in(client, users[role])
    elif role == "guest":
        _open_as_guest(client, world)
    return client


def _any_token(client) -> str:
    """A valid CSRF token of this browser's session, from the language switcher on a public page."""
    return csrf_token(client, "/glossary")


def _snapshot() -> dict[str, list[str]]:
    """Every row of every table, read on a connection of its own (what the app has committed)."""
    with db.engine.connect() as connection:
        return {table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
                for table in db.metadata.sorted_tables}


def _url_values(world: World, endpoint: str) -> dict:
    """Real objects for each URL argument of ``endpoint``."""
    public_id = world.payment.public_id if endpoint.startswith("payments.") else world.question.public_id
    if endpoint.startswith("plans."):
        public_id = world.plan.public_id
    if endpoint == "staff.resolve_dispute":
        public_id = world.dispute.question.public_id
    elif endpoint == "staff.decide_assistance":
        public_id = world.application.question.public_id
    elif endpoint == "assistance.document":
        public_id = world.document.public_id
    # A line nobody has disputed yet.
    line_id = world.statement.visits[0].lines[1].id
    # A bill of the victim's account that their plan does not cover yet.
    number = world.sibling.number if endpoint == "plans.add" else world.statement.number
    return {"number": number, "public_id": public_id, "user_id": world.assigned.id,
            "line_id": line_id,
            "event_id": world.event.id, "mail_id": world.mail.id, "token": world.reset_token,
            "name": "deductible", "filename": "css/portal.css"}


def _url(app, world: World, rule) -> str:
    values = _url_values(world, rule.endpoint)
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


# ------------------------------------------------------------------------------------- 1. session fixation

def _cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def _plant(client, value: str) -> None:
    client.set_cookie("session", value, domain="localhost")


def _shut_out(client, world) -> None:  # noqa: ANN001
    """The cookie opens nothing: the list of bills asks to sign in, and the bill is not found."""
    assert client.get("/statements").status_code == 302
    assert client.get(f"/statements/{world.statement.number}").status_code == 404
    TRIED["session"] += 1


def test_a_session_cookie_planted_before_sign_in_neither_survives_it_nor_carries_the_login(app, world):
    attacker = app.test_client()
    attacker.get("/login")
    planted = _cookie(attacker)
    assert planted
    victim = app.test_client()
    _plant(victim, planted)
    _sign_in(victim, world.owner)
    assert _cookie(victim) != planted
    assert victim.get("/statements").status_code == 200
    # The attacker still holds the cookie they planted: it is not signed in.
    _shut_out(attacker, world)


def test_a_session_cookie_signed_with_another_key_is_ignored(app, make_app, world):
    forger = make_app(SECRET_KEY="an-attackers-own-secret-key-long-enough-to-pass")
    forged_client = forger.test_client()
    with forger.app_context():
        _sign_in(forged_client, db.session.get(User, world.owner.id))
    target = app.test_client()
    _plant(target, _cookie(forged_client))
    _shut_out(target, world)


def test_a_cookie_copied_while_signed_in_stops_working_at_sign_out(app, world):
    victim = app.test_client()
    _sign_in(victim, world.owner)
    stolen = _cookie(victim)
    response = victim.post("/logout", data={"csrf_token": csrf_token(victim, "/statements")})
    assert response.status_code == 302
    thief = app.test_client()
    _plant(thief, stolen)
    _shut_out(thief, world)


def test_a_cookie_stolen_before_a_password_reset_stays_dead_after_the_owner_signs_in_again(app, world):
    victim = app.test_client()
    _sign_in(victim, world.owner)
    stolen = _cookie(victim)
    reset = app.test_client()
    url = f"/password/reset/{world.reset_token}"
    response = reset.post(url, data={"password": "a brand new passphrase", "confirm": "a brand new passphrase",
                                     "csrf_token": csrf_token(reset, url)})
    assert response.status_code == 302
    _sign_in(reset, world.owner, "a brand new passphrase")
    thief = app.test_client()
    _plant(thief, stolen)
    assert thief.get("/statements").status_code == 302
    assert victim.get("/statements").status_code == 302
    # The used link does not work a second time, from any browser.
    assert app.test_client().get(url).status_code == 400
    TRIED["session"] += 1


def test_a_quick_pay_grant_ends_with_sign_out(app, world):
    guest = app.test_client()
    _open_as_guest(guest, world)
    number = world.guest_statement.number
    assert guest.get(f"/statements/{number}").status_code == 200
    response = guest.post("/logout", data={"csrf_token": _any_token(guest)})
    assert response.status_code == 302
    assert guest.get(f"/statements/{number}").status_code == 404
    TRIED["session"] += 1


# ------------------------------------------------------------------------------------------------- 2. CSRF

def _claim(client, world: World) -> None:
    with client.session_transaction() as session:
        session["claimed_statement"] = {"statement_id": world.guest_statement.id, "expires": time.time() + 600}


# Every route that accepts POST, who may use it, and a form that would do something if it got through.
CSRF_ROUTES = {
    "language.choose": ("anonymous", lambda w: {"language": "es", "next": "/glossary"}),
    "auth.login": ("anonymous", lambda w: {"email": w.owner.email, "password": PASSWORD}),
    "auth.logout": ("owner", lambda w: {}),
    "auth.register": ("anonymous", lambda w: {"statement_number": w.guest_statement.number,
                                              "date_of_birth": w.guest_birth_date, "last_name": "Person"}),
    "auth.create_login": ("claimant", lambda w: {"email": "new@example.org", "password": "a long new passphrase",
                                                 "confirm": "a long new passphrase"}),
    "auth.forgot_password": ("anonymous", lambda w: {"email": w.owner.email}),
    "auth.reset_password": ("anonymous", lambda w: {"password": "a long new passphrase",
                                                    "confirm": "a long new passphrase"}),
    "auth.quick_pay": ("anonymous", lambda w: {"statement_number": w.guest_statement.number,
                                               "date_of_birth": w.guest_birth_date}),
    "payments.pay": ("owner", lambda w: {"choice": "full", "attempt": "a" * 24}),
    "payments.card": ("owner", lambda w: {"setup_intent": "seti_123"}),
    "payments.refund": ("supervisor", lambda w: {"amount": "1.00", "reason": "Asked for it", "attempt": "b" * 24}),
    "payments.reviewed": ("assigned_staff", lambda w: {}),
    "questions.ask": ("owner", lambda w: {"topic": "charges", "message": "Why?", "language": "en",
                                          "contact_method": "email", "email": w.owner.email}),
    "questions.thread": ("owner", lambda w: {"message": "Any news?"}),
    "staff.question": ("assigned_staff", lambda w: {"reply-message": "Here is why.", "reply-kind": "reply"}),
    "staff.status": ("assigned_staff", lambda w: {"status-status": "resolved"}),
    "staff.reassign": ("assigned_staff", lambda w: {"reassign-staff": str(w.unassigned.id),
                                                    "reassign-reason": "James knows this one"}),
    "staff.roster": ("supervisor", lambda w: {"languages": "en, fr", "departments": "Radiology", "active": ""}),
    "staff.send_mail_again": ("supervisor", lambda w: {}),
    "statements.itemised_bill": ("owner", lambda w: {"lang": "en"}),
    "disputes.dispute": ("owner", lambda w: {"reason": "charged_twice", "message": "Twice!", "language": "en",
                                             "contact_method": "email", "email": w.owner.email}),
    "staff.resolve_dispute": ("assigned_staff", lambda w: {"resolve-outcome": "explained",
                                                           "resolve-message": "It is right as billed."}),
    "assistance.apply": ("owner", lambda w: {"household_size": "2", "annual_income": "20000", "language": "en",
                                             "contact_method": "email", "email": w.owner.email, "confirm": "y"}),
    "staff.decide_assistance": ("assigned_staff", lambda w: {"decide-decision": "approved", "decide-amount": "5.00",
                                                             "decide-message": "Approved."}),
    "plans.new": ("owner", lambda w: {"months": "2", "day": "10", "email": w.owner.email, "action": "agree",
                                      "agree": "y", "total": "4766"}),
    "plans.card": ("owner", lambda w: {"setup_intent": "seti_123"}),
    "plans.pay_ahead": ("owner", lambda w: {}),
    "plans.autopay": ("owner", lambda w: {"enabled": "on", "cap": "100.00"}),
    "plans.add": ("owner", lambda w: {"months": "2", "day": "10", "action": "agree", "agree": "y", "total": "1"}),
    "plans.cancel": ("owner", lambda w: {"confirm": "y"}),
    "plans.staff_plan": ("supervisor", lambda w: {"reason": "Asked to stop"}),
}
# Signed by Stripe instead of a CSRF token: see the webhook test below.
SIGNED_ROUTES = {"stripe_webhooks.webhook"}


def test_every_post_route_is_known_to_the_csrf_attacks(app):
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posting == set(CSRF_ROUTES) | SIGNED_ROUTES


def _csrf_client(app, world: World, who: str):
    if who == "claimant":
        client = app.test_client()
        _claim(client, world)
        return client
    return _client_as(app, world, who)


@pytest.mark.parametrize("endpoint", sorted(CSRF_ROUTES))
def test_a_post_without_its_own_csrf_token_is_refused_and_changes_nothing(app, world, endpoint):
    who, form = CSRF_ROUTES[endpoint]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    url = _url(app, world, rule)
    client = _csrf_client(app, world, who)
    # A real token, but of another browser's session: what a forging page could have fetched for itself.
    foreign = _any_token(app.test_client())
    attempts = {"no token": {}, "a made-up token": {"csrf_token": "IjEyMzQi.Zm9yZ2Vk.bm90LWEtdG9rZW4"},
                "another session's token": {"csrf_token": foreign}, "an empty token": {"csrf_token": ""}}
    before = _snapshot()
    for name, token in attempts.items():
        response = client.post(url, data={**form(world), **token})
        assert response.status_code == 400, (endpoint, name)
        assert CSRF_REFUSED in response.get_data(as_text=True), (endpoint, name)
        TRIED["csrf attempts"] += 1
    # A token in a header does not help either when it is not this session's.
    response = client.post(url, data=form(world), headers={"X-CSRFToken": foreign})
    assert response.status_code == 400, (endpoint, "header")
    TRIED["csrf attempts"] += 1
    assert _snapshot() == before, endpoint
    if endpoint == "auth.logout":  # a forged sign-out does not sign anyone out
        assert client.get("/statements").status_code == 200
    # The control: with this session's own token the same request gets past the check (and is allowed).
    response = client.post(url, data={**form(world), "csrf_token": _any_token(client)})
    assert CSRF_REFUSED not in response.get_data().decode(errors="replace"), endpoint  # (a PDF is no text)
    assert response.status_code not in (404, 405), (endpoint, response.status_code)
    TRIED["csrf routes"] += 1


def test_sign_in_over_https_refuses_a_valid_token_sent_from_another_site(client, make):
    make.user()
    base = "https://portal.example"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    data = {"email": "pat@example.org", "password": PASSWORD, "csrf_token": token}
    for referer in ("https://evil.example/login", "http://portal.example/login", None):
        headers = {"Referer": referer} if referer else {}
        response = client.post("/login", base_url=base, headers=headers, data=data)
        assert response.status_code == 400, referer
        TRIED["csrf attempts"] += 1
    assert client.post("/login", base_url=base, headers={"Referer": f"{base}/login"}, data=data).status_code == 302


@pytest.mark.parametrize("signature", [None, "", "t=1,v1=deadbeef", "garbage",
                                       "sign with another secret", "sign an hour ago", "sign another body"])
def test_the_stripe_webhook_refuses_an_unsigned_or_badly_signed_body(client, world, signature):
    import json

    body = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded", "object": "event",
                       "data": {"object": {"id": "pi_victim", "object": "payment_intent", "status": "succeeded",
                                           "amount": 999999, "currency": "usd"}}}).encode()
    if signature == "sign with another secret":
        signature = sign_webhook(body, secret="whsec_the_attackers_own")
    elif signature == "sign an hour ago":
        signature = sign_webhook(body, timestamp=int(time.time()) - 3600)
    elif signature == "sign another body":
        signature = sign_webhook(b'{"id": "evt_harmless"}')
    headers = {} if signature is None else {"Stripe-Signature": signature}
    before = _snapshot()
    response = client.post("/stripe/webhook", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert _snapshot() == before
    TRIED["webhook forgeries"] += 1


def test_a_reset_link_is_built_on_the_public_address_not_on_a_forged_host_header(make_app, make, caplog):
    """Password-reset poisoning: a Host header of the attacker's choosing must not end up in the victim's email,
    where clicking the link would hand the attacker the reset token."""
    import logging

    app = make_app(PUBLIC_URL="https://portal.example")
    make.user("victim@example.org")
    client = app.test_client()
    for host in ("evil.example", "portal.example.evil.example", "portal.example@evil.example"):
        with caplog.at_level(logging.INFO, logger="portal.mail"):
            caplog.clear()
            page = client.get("/password/forgot", base_url=f"http://{host}").get_data(as_text=True)
            token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
            response = client.post("/password/forgot", base_url=f"http://{host}",
                                   data={"email": "victim@example.org", "csrf_token": token})
            assert response.status_code == 302, host
        assert "https://portal.example/password/reset/" in caplog.text, host
        assert "evil.example" not in caplog.text, host
        TRIED["host header forgeries"] += 1
        limiter.reset()


# -------------------------------------------------------------------------------------- 3. open redirects

# As typed into the address bar, query-encoded where a browser would send it so.
REDIRECTS = [
    "https://evil.example", "https://evil.example/statements", "http://evil.example", "//evil.example",
    "///evil.example", "////evil.example", "/%5Cevil.example", "%5C%5Cevil.example", "/%5C/evil.example",
    "%5C/evil.example", "http:evil.example", "https:evil.example", "https:/evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "%20javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example", "%252F%252Fevil.example", "/%2F/evil.example", "/%09/evil.example",
    "/%0A/evil.example", "/%0D%0A/evil.example", "%09//evil.example", "%20//evil.example", "%00//evil.example",
    "https://localhost@evil.example", "//localhost@evil.example", "/%2F%2Fevil.example",
    # Unicode look-alikes of "/" and "\": fullwidth solidus, division slash, fraction slash, small reverse solidus.
    "%EF%BC%8F%EF%BC%8Fevil.example", "/%EF%BC%8Fevil.example", "/%E2%88%95evil.example", "/%E2%81%84evil.example",
    "/%EF%B9%A8evil.example", "%E3%80%82evil.example", "/%E2%80%AE/evil.example",
]


def _stays_on_the_portal(location: str) -> None:
    assert not any(c in location for c in "\t\r\n\x00 "), location
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    path = location if not parts.netloc else location.split(parts.netloc, 1)[1]
    assert path.startswith("/") and path[1:2] not in ("/", "\\"), location
    # Browsers also read an encoded slash or backslash right after the first one as a second slash.
    assert not path[1:4].upper() in ("%2F", "%5C"), location


def _follow_next(client, url: str, data: dict, raw: str):
    response = client.post(url, query_string="next=" + raw, data={**data, "csrf_token": csrf_token(client, url)})
    if response.status_code == 400:  # a NUL byte is refused before anything else
        assert "\x00" in unquote(raw), (url, raw)
        return
    assert response.status_code in (302, 303), (url, raw, response.status_code)
    _stays_on_the_portal(response.headers["Location"])
    TRIED["redirect attempts"] += 1


@pytest.mark.parametrize("raw", REDIRECTS)
def test_next_after_sign_in_quick_pay_or_a_language_change_stays_on_the_portal(app, household, raw):
    user, statement = household
    _follow_next(app.test_client(), "/login", {"email": user.email, "password": PASSWORD}, raw)
    _follow_next(app.test_client(), "/quick-pay", {"statement_number": statement.number,
                                                   "date_of_birth": "05/17/1980"}, raw)
    client = app.test_client()
    response = client.post("/language", data={"language": "es", "next": unquote(raw),
                                              "csrf_token": _any_token(client)})
    if "\x00" in unquote(raw):
        assert response.status_code == 400
    else:
        assert response.status_code == 302
        _stays_on_the_portal(response.headers["Location"])
    TRIED["redirect attempts"] += 1
    TRIED["redirect payloads"] += 1


def test_next_that_comes_back_from_a_reply_link_stays_on_the_portal(app, world):
    """The reply email's link sends a signed-out reader to sign in with ``next``: it must stay a portal path
    whatever is put in the link."""
    for public_id in ("%5C%5Cevil.example", "..%2F..%2F%2Fevil.example", "%2F%2Fevil.example", "@evil.example"):
        client = app.test_client()
        response = client.get(f"/questions/{public_id}")
        TRIED["redirect attempts"] += 1
        if response.status_code == 404:  # not a question address at all: nothing to follow
            continue
        assert response.status_code in (302, 308)
        login = response.headers["Location"]
        _stays_on_the_portal(login)
        if urlsplit(login).path != "/login":  # Werkzeug's own redirect to the path without doubled slashes
            continue
        next_value = dict(p.split("=", 1) for p in urlsplit(login).query.split("&"))["next"]
        _follow_next(client, "/login", {"email": world.owner.email, "password": PASSWORD}, next_value)


# ----------------------------------------------------------------------------------------------------- 4. XSS

XSS = ('<script>alert(1)</script>"><img src=x onerror=alert(1)>{{7*7}}</textarea><svg onload=alert(1)>'
       '<a href="javascript:alert(1)">x</a>')
XSS_SHORT = '"><svg onload=alert(1)>{{7*7}}'  # for fields of 40 characters or fewer
APP_SCRIPTS = ("/static/",)


def _assert_inert(response, *, shown: str | None = None, value_of: str | None = None) -> BeautifulSoup:
    """No script, event handler or javascript: URL came from the data; ``shown`` is on the page as text."""
    assert response.status_code < 500
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    for script in page.find_all("script"):
        src = script.get("src") or ""
        assert src.startswith(APP_SCRIPTS) or "/js.stripe.com/" in src, script
    for tag in page.find_all(True):
        assert tag.name not in ("svg", "iframe", "object", "embed"), tag
        assert not (tag.name == "img" and tag.get("src") == "x"), tag
        for attribute, value in tag.attrs.items():
            assert not attribute.lower().startswith("on"), tag
            if attribute in ("href", "src", "action", "formaction"):
                assert not str(value).strip().lower().startswith("javascript:"), tag
    text = page.get_text()
    if shown is not None:
        # Shown as the text it is: the template did not evaluate {{7*7}} either.
        assert shown in text, shown
        assert "{{7*7}}" in text
    if value_of is not None:
        field = page.find(attrs={"name": value_of})
        assert field is not None and (field.get("value") or field.get_text()) in (XSS, XSS_SHORT), value_of
    TRIED["xss pages checked"] += 1
    return page


@pytest.fixture
def poisoned(world, app):
    """The victim's bill as if imported with payloads in every name and description, each tagged with its field
    so that the pages can be shown to display every one of them."""
    from portal.billing.models import Patient

    account = world.statement.account
    account.guarantor_name = XSS + "#guarantor"
    account.mailing_address = XSS + "#address"
    patient = db.session.scalar(select(Patient).where(Patient.account_id == account.id))
    patient.given_name, patient.family_name = XSS_SHORT + "#given", XSS_SHORT + "#family"
    for visit in world.statement.visits:
        visit.facility, visit.department = XSS + "#facility", XSS + "#department"
        visit.provider, visit.payer = XSS + "#provider", XSS + "#payer"
        for line in visit.lines:
            line.description = XSS + "#description"
    profile = db.session.get(StaffProfile, world.assigned.id)
    profile.display_name, profile.job_title = XSS + "#staff-name", XSS + "#job-title"
    db.session.commit()
    TRIED["xss fields"] += 10
    return world


def _shows_all(response, *fields: str) -> None:
    text = _assert_inert(response).get_text()
    missing = [field for field in fields if f"#{field}" not in text]
    assert not missing, missing
    assert "{{7*7}}" in text and "49" not in text.replace(",", " ").split()


BILL_FIELDS = ("guarantor", "given", "family", "facility", "department", "provider", "payer", "description")


def test_imported_names_and_descriptions_are_shown_as_text_to_patients_and_staff(app, poisoned):
    number = poisoned.statement.number
    owner = _client_as(app, poisoned, "owner")
    _shows_all(owner.get(f"/statements/{number}"), *BILL_FIELDS)
    _shows_all(owner.get("/statements"), "guarantor", "given")
    _assert_inert(owner.get("/payments"))
    _shows_all(owner.get("/questions"), "staff-name")
    _shows_all(owner.get(f"/questions/{poisoned.question.public_id}"), "staff-name", "job-title")
    _assert_inert(owner.get(f"/statements/{number}/ask"))
    _assert_inert(owner.get(f"/statements/{number}/ask?line={poisoned.statement.visits[0].lines[0].id}"))
    _assert_inert(owner.get(f"/statements/{number}/pay"))
    _assert_inert(owner.get(f"/payments/{poisoned.payment.public_id}"))
    staff = _client_as(app, poisoned, "assigned_staff")
    _shows_all(staff.get(f"/staff/questions/{poisoned.question.public_id}"), "guarantor")
    _shows_all(staff.get(f"/statements/{number}"), *BILL_FIELDS)
    _assert_inert(staff.get("/staff"))
    boss = _client_as(app, poisoned, "supervisor")
    _shows_all(boss.get("/staff/statements", query_string={"q": "alert"}), "guarantor")
    _shows_all(boss.get("/staff/dashboard"), "staff-name")
    _shows_all(boss.get("/staff?scope=all"), "staff-name")
    _assert_inert(boss.get(f"/staff/roster/{poisoned.assigned.id}"))
    _assert_inert(boss.get(f"/staff/payments/{poisoned.payment.public_id}/refund"))
    _assert_inert(boss.get("/staff/payments/review"))


def test_questions_replies_notes_and_reasons_are_shown_as_text(app, world):
    owner = _client_as(app, world, "owner")
    number = world.statement.number
    response = owner.post(f"/statements/{number}/ask",
                          data={"topic": "charges", "message": XSS, "language": "en", "contact_method": "email",
                                "email": world.owner.email, "csrf_token": _any_token(owner)})
    assert response.status_code == 302
    thread = response.headers["Location"]
    public_id = thread.rsplit("/", 1)[1]
    _assert_inert(owner.get(thread), shown=XSS)
    response = owner.post(thread, data={"message": XSS + " again", "csrf_token": _any_token(owner)})
    assert response.status_code == 302
    boss = _client_as(app, world, "supervisor")
    staff_url = f"/staff/questions/{public_id}"
    _assert_inert(boss.get(staff_url), shown=XSS + " again")
    for kind in ("reply", "note"):
        response = boss.post(staff_url, data={"reply-message": f"{kind}: {XSS}", "reply-kind": kind,
                                              "csrf_token": _any_token(boss)})
        assert response.status_code == 302
    holder = db.session.scalar(select(Question.assigned_staff_id).where(Question.public_id == public_id))
    to = world.unassigned if holder != world.unassigned.id else world.assigned
    response = boss.post(f"{staff_url}/reassign", data={"reassign-staff": str(to.id),
                                                        "reassign-reason": XSS, "csrf_token": _any_token(boss)})
    assert response.status_code == 302
    page = _assert_inert(boss.get(staff_url), shown=f"note: {XSS}")
    assert f"reply: {XSS}" in page.get_text() and f": {XSS}" in page.get_text()
    page = _assert_inert(owner.get(thread), shown=f"reply: {XSS}")
    assert f"note: {XSS}" not in page.get_text()  # internal notes stay internal
    # Too long: the form comes back with the text in its box, still inert.
    _assert_inert(owner.post(thread, data={"message": XSS * 40, "csrf_token": _any_token(owner)}))
    TRIED["xss fields"] += 5


def test_a_guests_contact_details_are_shown_to_staff_as_text(app, world):
    guest = _client_as(app, world, "guest")
    number = world.guest_statement.number
    response = guest.post(f"/statements/{number}/ask",
                          data={"topic": "charges", "message": "Call me", "language": "en", "contact_method": "phone",
                                "phone": XSS_SHORT, "email": "guest@example.org", "csrf_token": _any_token(guest)})
    assert response.status_code == 302
    public_id = response.headers["Location"].rsplit("/", 1)[1]
    _assert_inert(guest.get(response.headers["Location"]))
    boss = _client_as(app, world, "supervisor")
    _assert_inert(boss.get(f"/staff/questions/{public_id}"), shown=XSS_SHORT)
    # The flash after a reply names the phone number.
    response = boss.post(f"/staff/questions/{public_id}", data={"reply-message": "Calling you", "reply-kind": "reply",
                                                                "csrf_token": _any_token(boss)},
                         follow_redirects=True)
    _assert_inert(response, shown=XSS_SHORT)
    # Emails that are not addresses are refused, and come back inert.
    for email in (XSS_SHORT, '"<svg/onload=alert(1)>"@example.org', "a@<svg onload=alert(1)>.org"):
        response = guest.post(f"/statements/{number}/ask",
                              data={"topic": "charges", "message": "Hi", "language": "en", "contact_method": "email",
                                    "email": email, "csrf_token": _any_token(guest)})
        assert response.status_code == 400, email
        _assert_inert(response)
    TRIED["xss fields"] += 2


def test_staff_form_text_that_comes_back_is_inert(app, world):
    boss = _client_as(app, world, "supervisor")
    roster = f"/staff/roster/{world.assigned.id}"
    # A bad language list comes back in the error message and the box.
    response = boss.post(roster, data={"languages": XSS[:200], "departments": XSS, "csrf_token": _any_token(boss)})
    assert response.status_code == 400
    _assert_inert(response)
    response = boss.post(roster, data={"languages": "en", "departments": XSS, "active": "y",
                                       "csrf_token": _any_token(boss)})
    assert response.status_code == 302
    _assert_inert(boss.get("/staff/dashboard"), shown=XSS)
    _assert_inert(boss.get(roster))
    refund = f"/staff/payments/{world.payment.public_id}/refund"
    for amount in ("not money", "1.00"):  # refused here, and refused by Stripe (which does not know it)
        response = boss.post(refund, data={"amount": amount, "reason": XSS, "attempt": "c" * 24,
                                           "csrf_token": _any_token(boss)})
        assert response.status_code in (400, 503), amount
        page = _assert_inert(response)
        assert XSS in page.find("textarea", attrs={"name": "reason"}).get_text()
    response = boss.post(refund, data={"amount": XSS, "reason": "x", "attempt": "d" * 24,
                                       "csrf_token": _any_token(boss)})
    _assert_inert(response, value_of="amount")
    TRIED["xss fields"] += 4


def test_search_boxes_and_echoed_form_fields_are_inert(app, world, glossary):
    boss = _client_as(app, world, "supervisor")
    _assert_inert(boss.get("/staff/statements", query_string={"q": XSS[:100]}))
    anonymous = app.test_client()
    page = _assert_inert(anonymous.get("/glossary", query_string={"q": XSS[:100]}))
    assert "{{7*7}}" in page.get_text()
    _assert_inert(anonymous.get("/glossary/" + quote(XSS)))
    # Addresses and query strings come back in error pages, in form actions and in the language switcher.
    _assert_inert(anonymous.get("/statements/" + quote(XSS, safe="")))
    _assert_inert(anonymous.get("/login", query_string={"next": XSS}))
    _assert_inert(anonymous.get("/quick-pay", query_string={"next": XSS, "statement": XSS}))
    _assert_inert(anonymous.get("/password/reset/" + quote(XSS, safe="")))
    token = _any_token(anonymous)
    echoed = [
        ("/register", {"statement_number": world.guest_statement.number, "date_of_birth": "01/01/1990",
                       "last_name": XSS[:100]}, "last_name"),
        ("/register", {"statement_number": XSS, "date_of_birth": XSS, "last_name": "x"}, None),
        ("/quick-pay", {"statement_number": XSS, "date_of_birth": XSS}, None),
        ("/login", {"email": XSS, "password": "x"}, "email"),
        ("/password/forgot", {"email": XSS}, "email"),
    ]
    for url, data, field in echoed:
        limiter.reset()
        response = anonymous.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 400, url
        if field == "last_name":
            _assert_inert(response)
            assert _input_value(response, field) == XSS[:100]
        else:
            _assert_inert(response)
    _assert_inert(anonymous.get("/register", query_string={"statement": XSS}))
    _assert_inert(anonymous.get("/quick-pay", query_string={"statement": XSS}))
    owner = _client_as(app, world, "owner")
    pay = f"/statements/{world.statement.number}/pay"
    response = owner.post(pay, data={"choice": "other", "other_amount": XSS_SHORT, "receipt_email": XSS_SHORT,
                                     "attempt": "e" * 24, "csrf_token": _any_token(owner)})
    assert response.status_code == 400
    _assert_inert(response, value_of="other_amount")
    # The language switcher carries the page's address (query included) in a hidden field.
    _assert_inert(anonymous.get("/glossary", query_string={"q": '"><svg onload=alert(1)>'}))
    TRIED["xss fields"] += 12


def test_no_lazy_translation_carries_values_into_a_page():
    """``_l("... %(x)s", x=...)`` makes a lazy string, which Jinja takes for safe HTML (it has ``__html__``): any
    value formatted into it reaches the page unescaped. Values go through ``_`` at request time instead."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "portal"
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_l"
                    and node.keywords):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found


def _input_value(response, name: str) -> str:
    field = BeautifulSoup(response.get_data(as_text=True), "html.parser").find("input", attrs={"name": name})
    return field.get("value") if field else ""


# ---------------------------------------------------------------------------------------- 5. SQL injection

SQLI = [
    "' OR '1'='1", "' OR 1=1 --", "' OR 1=1#", "1; DROP TABLE users--", '" OR 1=1 --', "%' --", "%' OR '%'='",
    "'; DELETE FROM statements; --", "1' UNION SELECT email, password_hash FROM users --", "admin'--",
    "') OR ('a'='a", "700700700' OR '1'='1", "700700700'--", "700700700; DROP TABLE statements",
    "\\'; DROP TABLE users; --", "1 AND SLEEP(5)", "1' AND pg_sleep(5)--", "' || (SELECT 1) || '",
]
# Email-shaped, so that they pass the form and reach the query.
SQLI_EMAILS = ["a'or'1'='1@example.org", "victim@example.org'--@example.org", "x'||'1@example.org",
               "'or''='@example.org", "victim@example.org'/*@x.org"]


def _table_counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables if t.name not in ("audit_events",)}


def test_sql_in_sign_in_and_bill_look_ups_opens_nothing(app, world):
    tables, counts = set(inspect(db.engine).get_table_names()), _table_counts()
    users = {t: rows for t, rows in _snapshot().items() if t in ("users", "statements", "accounts")}
    client = app.test_client()
    token = _any_token(client)

    def post(url, data):
        limiter.reset()  # each guess must reach the query, not the rate limit
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (400, 401), (url, data, response.status_code)
        TRIED["sql injection attempts"] += 1
        return response

    for payload in SQLI + SQLI_EMAILS:
        post("/login", {"email": payload, "password": payload})
        post("/login", {"email": world.owner.email, "password": payload})
        post("/quick-pay", {"statement_number": payload, "date_of_birth": world.guest_birth_date})
        post("/quick-pay", {"statement_number": world.guest_statement.number, "date_of_birth": payload})
        post("/register", {"statement_number": world.guest_statement.number,
                           "date_of_birth": world.guest_birth_date, "last_name": payload})
        post("/register", {"statement_number": payload, "date_of_birth": payload, "last_name": payload})
        if "@" in payload:  # the same answer whether or not the address has a login
            limiter.reset()
            response = client.post("/password/forgot", data={"email": payload, "csrf_token": token})
            assert response.status_code in (302, 400), payload  # 400: not an email address
            TRIED["sql injection attempts"] += 1
    for path in ("/statements/{}", "/statements/{}/pdf", "/statements/{}/pay", "/statements/{}/ask",
                 "/payments/{}", "/payments/{}/status.json", "/questions/{}", "/glossary/{}"):
        for payload in SQLI:
            response = client.get(path.format(quote(payload, safe="")))
            assert response.status_code in (302, 404), (path, payload, response.status_code)
            TRIED["sql injection attempts"] += 1
    for payload in SQLI:
        assert client.get("/glossary", query_string={"q": payload}).status_code == 200
        assert client.get("/quick-pay", query_string={"statement": payload}).status_code == 200
        TRIED["sql injection attempts"] += 2
    assert client.get("/statements").status_code == 302  # still nobody
    assert set(inspect(db.engine).get_table_names()) == tables
    assert _table_counts() == counts
    assert {t: rows for t, rows in _snapshot().items() if t in users} == users


def test_sql_in_the_staff_search_finds_only_what_the_searcher_may_open(app, world):
    staff = _client_as(app, world, "unassigned_staff")
    boss = _client_as(app, world, "supervisor")
    counts = _table_counts()
    for payload in SQLI:
        for client, name in ((staff, "staff"), (boss, "supervisor")):
            response = client.get("/staff/statements", query_string={"q": payload})
            assert response.status_code == 200, (name, payload)
            page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
            # Nobody's name contains these strings: a listed statement means the query was rewritten.
            listed = [a["href"] for a in page.find_all("a", href=True) if a["href"].startswith("/statements/")]
            assert not listed, (name, payload, listed)
            TRIED["sql injection attempts"] += 1
    # The victim's bill is not given to this colleague's questions... except the one question that is.
    def listed(client, query: str) -> list[str]:
        page = BeautifulSoup(client.get("/staff/statements", query_string={"q": query}).get_data(as_text=True),
                             "html.parser")
        return [a["href"] for a in page.find_all("a", href=True) if a["href"].startswith("/statements/")]

    # Only the one given a question on the victim's bill finds it, whatever wildcard the others type.
    assert listed(staff, "Quixotic") == listed(staff, "%") == listed(staff, "_") == []
    assert f"/statements/{world.statement.number}" in listed(_client_as(app, world, "assigned_staff"), "Quixotic")
    assert f"/statements/{world.guest_statement.number}" in listed(boss, "Guest")
    assert _table_counts() == counts


# ---------------------------------------------------------------------------------------------- 6. brute force

def _fail(client, url: str, data: dict, address: str = "10.0.0.1", forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    TRIED["brute force tries"] += 1
    return client.post(url, data={**data, "csrf_token": _any_token(client)}, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def test_a_forged_forwarded_for_does_not_reset_the_limit_per_address(client, world):
    """Without trusted proxies (the default), X-Forwarded-For is the client's own word and changes nothing."""
    assert client.application.config["TRUSTED_PROXIES"] == 0
    for i in range(5):
        response = _fail(client, "/login", {"email": f"guess{i}@example.org", "password": "wrong"},
                         forwarded=f"203.0.113.{i}")
        assert response.status_code == 401
    response = _fail(client, "/login", {"email": world.owner.email, "password": PASSWORD}, forwarded="198.51.100.7")
    assert response.status_code == 429


def test_one_email_from_rotating_forwarded_addresses_is_still_limited(client, world):
    for i in range(5):
        _fail(client, "/login", {"email": world.owner.email, "password": "wrong"}, address="10.1.0.1",
              forwarded=f"203.0.113.{i}")
    response = _fail(client, "/login", {"email": world.owner.email, "password": PASSWORD},
                     address="10.1.0.1", forwarded="198.51.100.8")
    assert response.status_code == 429


def test_the_limit_per_address_is_shared_by_sign_in_quick_pay_and_registration(client, world):
    for i in range(2):
        _fail(client, "/login", {"email": f"guess{i}@example.org", "password": "wrong"})
        _fail(client, "/quick-pay", {"statement_number": f"90000000{i}", "date_of_birth": "01/01/2000"})
    _fail(client, "/register", {"statement_number": "900000009", "date_of_birth": "01/01/2000", "last_name": "X"})
    response = _fail(client, "/quick-pay", {"statement_number": world.guest_statement.number,
                                             "date_of_birth": world.guest_birth_date})
    assert response.status_code == 429


def test_spelling_a_statement_number_or_email_differently_is_the_same_target(client, world):
    number = world.guest_statement.number
    spellings = [number, f" {number} ", "-".join([number[:3], number[3:6], number[6:]]),
                 " ".join([number[:3], number[3:6], number[6:]]), f"{number[:4]}-{number[4:]}"]
    for i, spelled in enumerate(spellings):
        _fail(client, "/quick-pay", {"statement_number": spelled, "date_of_birth": "01/01/2000"},
              address=f"10.2.0.{i}")
    response = _fail(client, "/quick-pay", {"statement_number": number, "date_of_birth": world.guest_birth_date},
                     address="10.2.0.99")
    assert response.status_code == 429
    for i, spelled in enumerate(["VICTIM@example.org", " victim@example.org", "Victim@Example.org",
                                 "victim@EXAMPLE.ORG ", "victim@example.org"]):
        _fail(client, "/login", {"email": spelled, "password": "wrong"}, address=f"10.3.0.{i}")
    response = _fail(client, "/login", {"email": world.owner.email, "password": PASSWORD}, address="10.3.0.99")
    assert response.status_code == 429


def test_reset_emails_from_one_address_are_limited_across_emails_and_forwarded_addresses(client, world):
    for i in range(5):
        assert _fail(client, "/password/forgot", {"email": f"guess{i}@example.org"},
                     forwarded=f"203.0.113.{i}").status_code == 302
    response = _fail(client, "/password/forgot", {"email": world.owner.email}, forwarded="198.51.100.9")
    assert response.status_code == 429
    assert OutgoingMail.query.filter_by(kind="password_reset").count() <= 1


# --------------------------------------------------------------------------------------------- 7. role matrix

# Who gets what: anonymous, another patient, a quick-pay guest of another bill, billing staff given nothing of
# the victim's, billing staff given the victim's question, the victim (owner) and a supervisor.
A, O, G, U, S, W, B = ROLES
LOGIN = "login"  # a redirect to the sign-in page
PATIENTS_404 = {O: 404, W: 404}
STATEMENT = {A: 404, O: 404, G: 404, U: 404, S: 200, W: 200, B: 200}
STAFF_ONLY = {A: LOGIN, G: LOGIN, **PATIENTS_404, U: 200, S: 200, B: 200}
SUPERVISOR_ONLY = {A: LOGIN, G: LOGIN, **PATIENTS_404, U: 404, S: 404, B: 200}
ASSIGNED_ONLY = {A: LOGIN, G: LOGIN, **PATIENTS_404, U: 404}
MATRIX = {
    ("billing.statement", "GET"): STATEMENT,
    ("statements.statement_pdf", "GET"): STATEMENT,
    ("payments.pay", "GET"): STATEMENT,
    ("payments.status", "GET"): STATEMENT,
    ("payments.status_json", "GET"): STATEMENT,
    # A paid bill's card page sends those who may see it to the receipt.
    ("payments.card", "GET"): {**STATEMENT, S: 302, W: 302, B: 302},
    ("questions.ask", "GET"): {**STATEMENT, S: 404, B: 404},  # staff do not ask
    ("disputes.dispute", "GET"): {**STATEMENT, S: 404, B: 404},  # nor dispute for a patient
    ("assistance.apply", "GET"): {**STATEMENT, S: 404, B: 404},  # nor apply for one
    # Proof of income: the staff member deciding and supervisors; never the patient, who sent it.
    ("assistance.document", "GET"): {A: 404, O: 404, G: 404, U: 404, S: 200, W: 404, B: 200},
    # Signed out, the reply link asks to sign in whatever the question; staff go to their own page.
    ("questions.thread", "GET"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 302, W: 200, B: 302},
    ("questions.index", "GET"): {A: LOGIN, O: 200, G: LOGIN, U: 302, S: 302, W: 200, B: 302},
    ("payments.history", "GET"): {A: LOGIN, O: 200, G: LOGIN, U: 302, S: 302, W: 200, B: 302},
    ("billing.statements", "GET"): {A: LOGIN, O: 200, G: LOGIN, U: 302, S: 302, W: 200, B: 302},
    ("billing.staff_search", "GET"): STAFF_ONLY,
    ("staff.inbox", "GET"): STAFF_ONLY,
    ("payments.review", "GET"): STAFF_ONLY,
    ("staff.question", "GET"): {**ASSIGNED_ONLY, S: 200, B: 200},
    ("staff.dashboard", "GET"): SUPERVISOR_ONLY,
    ("staff.roster", "GET"): SUPERVISOR_ONLY,
    ("payments.refund", "GET"): SUPERVISOR_ONLY,
    # POSTs carry this session's CSRF token and an empty form: those who may use the route get the form's own
    # 400 (or its redirect); nobody else gets further than 404 or the sign-in page.
    # An empty pay form means "the full amount" (the form's defaults): the payment starts.
    ("payments.pay", "POST"): {**STATEMENT, S: 302, W: 302, B: 302},
    # The itemised bill is printed at once for all who may see the statement (staff print it for a patient).
    ("statements.itemised_bill", "POST"): STATEMENT,
    ("payments.card", "POST"): {**STATEMENT, S: 302, W: 302, B: 302},
    ("questions.ask", "POST"): {**STATEMENT, S: 404, W: 400, B: 404},
    ("disputes.dispute", "POST"): {**STATEMENT, S: 404, W: 400, B: 404},
    ("staff.resolve_dispute", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
    # The victim has applied already: a second application is refused as such.
    ("assistance.apply", "POST"): {**STATEMENT, S: 404, W: 409, B: 404},
    ("staff.decide_assistance", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
    ("questions.thread", "POST"): {A: 404, O: 404, G: 404, U: 404, S: 302, W: 400, B: 302},
    ("staff.question", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
    ("staff.status", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
    ("staff.reassign", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
    ("staff.roster", "POST"): {**SUPERVISOR_ONLY, B: 400},
    ("payments.refund", "POST"): {**SUPERVISOR_ONLY, B: 400},
    ("payments.reviewed", "POST"): {**STAFF_ONLY, U: 302, S: 302, B: 302},
    ("staff.send_mail_again", "POST"): {**SUPERVISOR_ONLY, B: 302},
    # Payment plans: the owner's own; staff see them in the billing office's pages. A plan already running sends
    # its owner from "set up a plan" to the plan; signed out, a statement's plan page is simply not found.
    ("plans.new", "GET"): {A: 404, O: 404, G: 404, U: 404, S: 404, W: 302, B: 404},
    ("plans.new", "POST"): {A: 404, O: 404, G: 404, U: 404, S: 404, W: 302, B: 404},
    ("plans.plans", "GET"): {A: LOGIN, O: 200, G: LOGIN, U: 302, S: 302, W: 200, B: 302},
    ("plans.plan", "GET"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 200, B: 404},
    ("plans.card", "GET"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 200, B: 404},
    ("plans.card", "POST"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 400, B: 404},
    # The victim's card is not one Stripe knows: paying ahead is refused, and the plan page says so.
    ("plans.pay_ahead", "POST"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 302, B: 404},
    ("plans.autopay", "POST"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 400, B: 404},
    ("plans.add", "GET"): {A: 404, O: 404, G: 404, U: 404, S: 404, W: 200, B: 404},
    ("plans.add", "POST"): {A: 404, O: 404, G: 404, U: 404, S: 404, W: 400, B: 404},
    ("plans.cancel", "GET"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 200, B: 404},
    ("plans.cancel", "POST"): {A: LOGIN, O: 404, G: LOGIN, U: 404, S: 404, W: 400, B: 404},
    ("plans.staff_plans", "GET"): STAFF_ONLY,
    ("plans.staff_plan", "GET"): {**ASSIGNED_ONLY, S: 200, B: 200},
    ("plans.staff_plan", "POST"): {**ASSIGNED_ONLY, S: 400, B: 400},
}
# Pages about no patient: the same for everyone, checked only for errors and leaks.
PUBLIC = {"billing.home", "assistance.policy_page", "glossary.index", "glossary.term", "health.healthz", "static", "language.choose",
          "auth.login", "auth.logout", "auth.register", "auth.create_login", "auth.forgot_password",
          "auth.quick_pay", "auth.reset_password", "stripe_webhooks.webhook"}
SEES_THE_VICTIM = {S, W, B}


def test_every_route_and_method_is_in_the_access_matrix(app):
    guarded = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint not in PUBLIC
               for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert guarded == set(MATRIX)
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == {e for e, _m in MATRIX} | PUBLIC
    assert all(set(expected) == set(ROLES) for expected in MATRIX.values())


def _outcome(response) -> int | str:
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login":
        return LOGIN
    return response.status_code


def test_every_route_answers_each_role_as_the_access_rules_say(app, world):
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    wrong = []
    for role in ROLES:  # the supervisor last: "send again" and "reviewed" change what the others would see
        client = _client_as(app, world, role)
        token = _any_token(client)
        before = _snapshot()
        for (endpoint, method), expected in MATRIX.items():
            url = _url(app, world, rules[endpoint])
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            outcome = _outcome(response)
            TRIED["access checks"] += 1
            if outcome != expected[role]:
                wrong.append((role, method, url, outcome, expected[role]))
            if role not in SEES_THE_VICTIM:
                body = response.get_data().decode(errors="replace")
                leaked = [s for s in (*SECRETS, world.statement.number, "$12.34") if s in body]
                if leaked:
                    wrong.append((role, method, url, "leaks", leaked))
        if role in (A, O, G, U):
            # Billing staff may mark payments reviewed, and their page views are audited; nothing else changes.
            changed = ({t for t, rows in _snapshot().items() if rows != before[t]}
                       - ({"stripe_events", "audit_events"} if role == U else set()))
            if changed:
                wrong.append((role, "changed tables", changed))
        for endpoint in sorted(PUBLIC - {"static", "stripe_webhooks.webhook", "auth.logout"}):
            rule = rules[endpoint]
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.open(_url(app, world, rule), method=method, data={"csrf_token": token})
                TRIED["access checks"] += 1
                if response.status_code >= 500:
                    wrong.append((role, method, rule.rule, response.status_code, "< 500"))
                body = response.get_data().decode(errors="replace")
                if role not in SEES_THE_VICTIM and any(s in body for s in SECRETS):
                    wrong.append((role, method, rule.rule, "leaks", SECRETS))
    assert not wrong, "\n".join(map(str, wrong))


def test_staff_given_one_question_open_that_bill_only(app, world):
    staff = _client_as(app, world, "assigned_staff")
    assert staff.get(f"/statements/{world.statement.number}").status_code == 200
    # The same household's other bill, and a colleague's question on the same bill, stay closed.
    assert staff.get(f"/statements/{world.sibling.number}").status_code == 404
    assert staff.get(f"/statements/{world.sibling.number}/pdf").status_code == 404
    assert staff.get(f"/staff/questions/{world.other_question.public_id}").status_code == 404
    token = _any_token(staff)
    for action in ("status", "reassign"):
        response = staff.post(f"/staff/questions/{world.other_question.public_id}/{action}",
                              data={"csrf_token": token, "status-status": "resolved",
                                    "reassign-staff": str(world.assigned.id), "reassign-reason": "mine now"})
        assert response.status_code == 404
    assert db.session.get(Question, world.other_question.id).assigned_staff_id == world.colleague.id
    # Once the questions go to someone else, the bill closes to them too.
    boss = _client_as(app, world, "supervisor")
    for question in (world.question, world.dispute.question, world.application.question):
        response = boss.post(f"/staff/questions/{question.public_id}/reassign",
                             data={"reassign-staff": str(world.supervisor.id), "reassign-reason": "I take it",
                                   "csrf_token": _any_token(boss)})
        assert response.status_code == 302
    assert staff.get(f"/statements/{world.statement.number}").status_code == 404
    TRIED["access checks"] += 8


def test_a_patient_cannot_reach_another_bill_through_a_line_or_a_payment_attempt(app, world):
    """Ids that travel in forms and query strings (a line to ask about, the pay form's attempt key) do not open
    anything of another household's."""
    victim_line = world.statement.visits[0].lines[0].id
    other = _client_as(app, world, "other_patient")
    own = db.session.scalar(select(Statement).join(Statement.account).where(Statement.account_id.in_(
        [a.id for a in world.other.accounts])))
    assert other.get(f"/statements/{own.number}/ask?line={victim_line}").status_code == 404
    response = other.post(f"/statements/{own.number}/ask?line={victim_line}",
                          data={"topic": "charges", "message": "Whose line?", "language": "en",
                                "contact_method": "email", "email": world.other.email,
                                "csrf_token": _any_token(other)})
    assert response.status_code == 404
    # The victim starts a payment; another patient sends the same attempt key with their own bill.
    owner = _client_as(app, world, "owner")
    response = owner.post(f"/statements/{world.statement.number}/pay",
                          data={"choice": "full", "attempt": "f" * 24, "csrf_token": _any_token(owner)})
    assert response.status_code == 302
    victims_payment = response.headers["Location"].split("/")[2]
    response = other.post(f"/statements/{own.number}/pay",
                          data={"choice": "full", "attempt": "f" * 24, "csrf_token": _any_token(other)})
    assert response.status_code == 400
    assert other.get(f"/payments/{victims_payment}").status_code == 404
    assert other.get(f"/payments/{victims_payment}/card").status_code == 404
    TRIED["access checks"] += 6


def test_supervisors_cannot_hand_questions_to_patients_or_resend_reset_links(app, world):
    boss = _client_as(app, world, "supervisor")
    token = _any_token(boss)
    url = f"/staff/questions/{world.question.public_id}/reassign"
    for user_id in (world.owner.id, world.other.id, 2**63, -1):
        response = boss.post(url, data={"reassign-staff": str(user_id), "reassign-reason": "x", "csrf_token": token})
        assert response.status_code == 400, user_id
    assert db.session.get(Question, world.question.id).assigned_staff_id == world.assigned.id
    # A patient has no roster entry; ids past the database's integers are simply not found.
    for user_id in (world.owner.id, 2**63, 10**30):
        assert boss.get(f"/staff/roster/{user_id}").status_code == 404, user_id
    # A password reset email is never sent again: its link would have expired, or would work for whoever
    # can read the recipient's mail later.
    reset = OutgoingMail(kind="password_reset", recipient=world.owner.email, subject="Reset", body="link",
                         status="failed", attempts=5)
    db.session.add(reset)
    db.session.commit()
    assert boss.post(f"/staff/mail/{reset.id}/send-again", data={"csrf_token": token}).status_code == 404
    assert boss.post(f"/staff/mail/{2**63}/send-again", data={"csrf_token": token}).status_code == 404
    TRIED["access checks"] += 9


# ---------------------------------------------------------------------------------------------------- report
