""""Request an itemised bill": the PDF at once, with every code, the hospital's description and every amount of
each line, and every request kept on record for the billing office. PDFs are read back with pypdf."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.audit.models import AuditEvent
from portal.auth.models import User
from portal.extensions import db
from portal.statements import cache, services
from portal.statements.models import ItemisedBillRequest

from .conftest import csrf_token
from .pages import soup
from .test_statement_pdf import full_text


def ask(client, number: str, form: dict | None = None):
    """Press "Request an itemised bill" on the statement's page, with that page's CSRF token."""
    return client.post(f"/statements/{number}/itemised",
                       data={**(form or {}), "csrf_token": csrf_token(client, f"/statements/{number}")})


def requests() -> list[tuple[int, str, int | None, str]]:
    db.session.expire_all()
    return [(r.statement_id, r.requested_by, r.user_id, r.language)
            for r in ItemisedBillRequest.query.order_by(ItemisedBillRequest.id)]


def signed_in(app, make, email: str, role: str):
    client = app.test_client()
    make.user(email, role=role)
    client.post("/login", data={"email": email, "password": "correct horse battery",
                                "csrf_token": csrf_token(client, "/login")})
    return client


def test_a_patient_asks_for_an_itemised_bill_and_gets_it_at_once(client, household, login_as):
    user, statement = household
    login_as(user)
    page = soup(client.get(f"/statements/{statement.number}"))
    form = page.find("form", class_="itemised-request")
    assert form["method"] == "post" and form["action"] == f"/statements/{statement.number}/itemised"
    assert form.find("input", attrs={"name": "csrf_token"})["value"]
    button = form.find("button")
    assert button.get_text(strip=True) == "Request an itemised bill (PDF)"
    # The button says what it does and that the request is recorded, to a screen reader too.
    hint = page.find(id=button["aria-describedby"])
    assert "billing code" in hint.get_text() and "keeps a record" in hint.get_text()
    assert page.find(class_="itemised-asked") is None

    response = ask(client, statement.number)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=itemised-bill-{statement.number}-en.pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = full_text(response.get_data())
    assert f"Itemised bill {statement.number}" in text
    assert f"Every service on statement {statement.number}, with its billing code" in text
    # Every line with its code and the hospital's own description, and every amount of it.
    for index in range(3):
        assert f"CPT code 9920{index}: TEST SERVICE {index + 1}" in text
    parts = ("Charge $100.00 · Allowed amount $60.00 · Insurance paid $40.00 · Adjustment $30.00 · "
             "Deductible $10.00 · Copay $5.00 · Coinsurance $5.00 · Not covered $10.00 · You owe $30.00")
    assert text.count(parts) == 3

    assert requests() == [(statement.id, "patient", user.id, "en")]
    events = AuditEvent.query.filter_by(action="statement.itemised_requested").all()
    assert [(e.actor_kind, e.actor_user_id, e.subject_id) for e in events] == [("patient", user.id, statement.id)]
    # The page now says it was asked for (the staff see each request; see below).
    asked = soup(client.get(f"/statements/{statement.number}")).find(class_="itemised-asked")
    assert asked is not None and "An itemised bill of this statement was last asked for on" in asked.get_text()


def test_the_statement_pdf_stays_as_it_was_and_both_are_kept_side_by_side(app, client, household, login_as):
    user, statement = household
    login_as(user)
    statement_pdf = client.get(f"/statements/{statement.number}/pdf")
    text = full_text(statement_pdf.get_data())
    assert "Itemised bill" not in text and "Allowed amount $60.00 ·" not in text
    first, second = ask(client, statement.number), ask(client, statement.number)
    assert first.get_data() == second.get_data()  # the second from the cache
    folder = os.path.dirname(cache.path_for(statement.number, "en", "0"))
    names = [name for name in os.listdir(folder) if name.startswith(statement.number + ".")]
    assert sorted(name.split(".")[1] for name in names) == ["en", "en-itemised"]
    again = client.get(f"/statements/{statement.number}/pdf", headers={"If-None-Match": statement_pdf.headers["ETag"]})
    assert again.status_code == 304
    # Each request is kept, whether or not its PDF was printed anew.
    assert len(requests()) == 2

    # A corrected line is a new itemised bill, which replaces the old one beside the same statement PDF.
    line = statement.visits[0].lines[0]
    line.adjustment, line.insurance_paid = 4000, 3000
    db.session.commit()
    corrected = ask(client, statement.number)
    assert "Insurance paid $30.00 · Adjustment $40.00" in full_text(corrected.get_data())
    names = [name for name in os.listdir(folder) if name.startswith(statement.number + ".")]
    assert sorted(name.split(".")[1] for name in names) == ["en", "en-itemised"]


def test_only_those_who_may_see_the_statement_may_ask_and_each_is_recorded_as_who_they_are(app, client, make,
                                                                                           submit):
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    # Nobody signed in, and another household's patient: not found, nothing recorded.
    token = csrf_token(client, "/login")
    assert client.post(f"/statements/{statement.number}/itemised", data={"csrf_token": token}).status_code == 404
    other = signed_in(app, make, "other@example.org", "patient")
    assert other.post(f"/statements/{statement.number}/itemised",
                      data={"csrf_token": csrf_token(other, "/statements")}).status_code == 404
    clerk = signed_in(app, make, "clerk@example.org", "staff")  # no question of this household's
    assert clerk.post(f"/statements/{statement.number}/itemised",
                      data={"csrf_token": csrf_token(clerk, "/staff/statements")}).status_code == 404
    assert client.get(f"/statements/{statement.number}/itemised").status_code == 405
    assert requests() == []
    assert AuditEvent.query.filter_by(action="statement.itemised_requested").count() == 0

    # A quick-pay guest (no login) and a supervisor printing it for a patient on the phone.
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    assert ask(client, statement.number).status_code == 200
    boss = signed_in(app, make, "boss@example.org", "supervisor")
    assert ask(boss, statement.number).status_code == 200
    boss_id = User.query.filter_by(email="boss@example.org").one().id
    assert requests() == [(statement.id, "guest", None, "en"), (statement.id, "staff", boss_id, "en")]
    kinds = sorted(e.actor_kind for e in AuditEvent.query.filter_by(action="statement.itemised_requested"))
    assert kinds == ["guest", "supervisor"]

    # Billing staff see every request on the statement's page, the latest first.
    listed = soup(boss.get(f"/statements/{statement.number}")).find("ul", class_="itemised-requests")
    items = [" ".join(item.get_text().split()) for item in listed.find_all("li")]
    assert len(items) == 2
    assert items[0].endswith("printed by billing staff")
    assert items[1].endswith("asked for without a login, with the statement number (quick pay)")


def test_it_prints_in_the_language_asked_for_or_says_why_not(app, client, household, login_as):
    user, statement = household
    login_as(user)
    app.config["SUPPORTED_LOCALES"] = ["en", "es"]
    spanish = ask(client, statement.number, {"lang": "es"})
    assert spanish.headers["Content-Language"] == "es"
    assert spanish.headers["Content-Disposition"].endswith(f"itemised-bill-{statement.number}-es.pdf")
    assert "100,00" in full_text(spanish.get_data())
    unknown = ask(client, statement.number, {"lang": "<script>"})
    assert unknown.status_code == 200 and unknown.headers["Content-Language"] == "en"
    text = full_text(unknown.get_data())
    assert "This statement is not available in the language you asked for" in text and "<script>" not in text
    assert [language for *_, language in requests()] == ["es", "en"]


def test_requests_share_the_downloads_rate_limit(app, client, household, login_as):
    user, statement = household
    login_as(user)
    app.config["STATEMENT_PDF_RATE_LIMIT"] = "2 per minute"
    assert client.get(f"/statements/{statement.number}/pdf").status_code == 200
    assert ask(client, statement.number).status_code == 200
    assert ask(client, statement.number).status_code == 429
    assert len(requests()) == 1


def test_a_bill_that_could_not_be_printed_is_not_on_record(client, household, login_as, monkeypatch):
    user, statement = household
    login_as(user)

    def broken(html: str) -> bytes:
        raise RuntimeError("the printer is out of order")

    monkeypatch.setattr(services.pdf, "print_pdf", broken)
    assert ask(client, statement.number).status_code == 500
    assert requests() == []
    assert AuditEvent.query.filter_by(action="statement.itemised_requested").count() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lang=st.one_of(st.text(max_size=60), st.sampled_from(["es", "EN", "zh-Hans", "ar", "", "x" * 500])),
       extra=st.dictionaries(st.sampled_from(["itemised", "number", "user_id", "csrf_token"]), st.text(max_size=20), max_size=2))
def test_any_form_never_fails_and_records_one_request_each_time(app, client, household, login_as, lang, extra):
    user, statement = household
    if client.get("/statements").status_code != 200:  # the first example; the client stays signed in
        login_as(user)
        app.config["STATEMENT_PDF_RATE_LIMIT"] = "1000 per minute"
    before = len(requests())
    response = ask(client, statement.number, {**extra, "lang": lang})
    # (The page's own CSRF token replaces any drawn here.)
    if "\x00" in lang or any("\x00" in value for key, value in extra.items() if key != "csrf_token"):
        # Text no database can hold is refused before any view sees it (portal/errors.py).
        assert response.status_code == 400
        assert len(requests()) == before
        return
    assert response.status_code == 200
    assert response.headers["Content-Language"].replace("-", "_") in app.config["SUPPORTED_LOCALES"]
    assert len(requests()) == before + 1
    assert requests()[-1][:3] == (statement.id, "patient", user.id)
