""""Dispute this charge": a patient disputes a line, it is marked and routed to a named staff member, who resolves
it (corrected with an adjustment, explained, or sent to insurance); every balance counts the correction."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from portal.audit.models import AuditEvent
from portal.billing.models import BalanceAdjustment, Statement
from portal.billing.services import statement_page, summaries_for_accounts, summary_for
from portal.disputes import services
from portal.disputes.models import LineDispute
from portal.extensions import db
from portal.outbox.models import OutgoingMail
from portal.questions.models import RESOLVED, Question, StaffProfile
from portal.questions.services import NewQuestion
from portal.statements import services as printing

from .conftest import csrf_token
from .pages import soup
from .test_statement_pdf import full_text

WHY = "I was only seen once that day, but this was billed twice."


@pytest.fixture
def staff(make):
    """Maria handles disputes; James does not (so routing gives disputes to Maria); Patricia supervises."""
    people = {}
    for email, name, role, topics in [
        ("maria@example.org", "Maria Santos", "staff", ["charges", "dispute"]),
        ("james@example.org", "James O'Connor", "staff", ["charges", "refund"]),
        ("boss@example.org", "Patricia Okafor", "supervisor", []),
    ]:
        user = make.user(email, role=role)
        db.session.add(StaffProfile(user=user, display_name=name, job_title="Billing specialist",
                                    languages=["en", "es"], topics=topics))
        people[name.split()[0]] = user
    db.session.commit()
    return people


def lines_of(statement):
    return [line for visit in statement.visits for line in visit.lines]


def dispute(submit, number: str, line_id: int, **fields):
    data = {"reason": "charged_twice", "message": WHY, "language": "en", "contact_method": "email",
            "email": "pat@example.org", "phone": ""}
    data.update(fields)
    return submit(f"/statements/{number}/lines/{line_id}/dispute", data)


def signed_in(app, email: str):
    desk = app.test_client()
    desk.post("/login", data={"email": email, "password": "correct horse battery",
                              "csrf_token": csrf_token(desk, "/login")})
    return desk


def resolve(desk, question: Question, **fields):
    url = f"/staff/questions/{question.public_id}"
    page = desk.get(url).get_data(as_text=True)
    token = re.search(r'name="resolve-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"resolve-csrf_token": token, "resolve-outcome": "corrected", "resolve-amount": "",
            "resolve-message": "You are right: it was entered twice. We took it off."}
    data.update({f"resolve-{key}": value for key, value in fields.items()})
    return desk.post(f"{url}/dispute", data=data)


@pytest.fixture
def disputed(household, login_as, submit, staff):
    """The household's patient, signed in, has disputed their first line: (statement, line, its question)."""
    user, statement = household
    login_as(user)
    line = lines_of(statement)[0]
    assert dispute(submit, statement.number, line.id).status_code == 302
    return statement, line, Question.query.one()


def stored() -> tuple[int, int, int]:
    db.session.expire_all()
    return LineDispute.query.count(), Question.query.count(), BalanceAdjustment.query.count()


def test_a_patient_disputes_a_charge_and_it_goes_to_a_named_person(client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    first, second, _ = lines_of(statement)
    page = soup(client.get(f"/statements/{statement.number}"))
    links = [a for a in page.find_all("a") if a.get_text(" ", strip=True).startswith("Dispute this charge")]
    assert [a["href"] for a in links] == [f"/statements/{statement.number}/lines/{line.id}/dispute"
                                          for line in lines_of(statement)]

    form = soup(client.get(f"/statements/{statement.number}/lines/{first.id}/dispute"))
    assert form.find("h1").get_text(strip=True) == "Dispute this charge"
    reasons = form.find("fieldset", id="reason")
    assert reasons.find("legend").get_text(strip=True) == "Why do you think this charge is wrong?"
    labels = [label.get_text(strip=True) for label in reasons.find_all("label")]
    assert labels == ["I did not receive this service", "I was charged twice for it",
                      "My insurance should have paid it", "The amount is different from my estimate", "Another reason"]
    # Every input has its label.
    for field in form.find("form").find_all(["input", "textarea", "select"]):
        if field.get("type") != "hidden":
            assert form.find("label", attrs={"for": field["id"]}) is not None, field

    response = dispute(submit, statement.number, first.id)
    assert response.status_code == 302
    disputed = LineDispute.query.one()
    question = disputed.question
    assert (disputed.line_item_id, disputed.reason, disputed.is_open) == (first.id, "charged_twice", True)
    assert (question.topic, question.line_item_id, question.assigned_staff_id) == ("dispute", first.id,
                                                                                  staff["Maria"].id)
    assert question.messages[0].body == WHY
    assert response.headers["Location"] == f"/questions/{question.public_id}"
    thread = soup(client.get(response.headers["Location"]))
    box = thread.find("section", class_="dispute").get_text(" ", strip=True)
    assert "I was charged twice for it" in box and "Not decided yet" in box
    assert "Maria Santos" in thread.get_text()

    # The statement marks the line, names who has it, and offers no second dispute of it.
    page = soup(client.get(f"/statements/{statement.number}"))
    marked = page.find(class_="dispute-open").get_text(" ", strip=True)
    assert "Disputed" in marked and "You disputed this charge: I was charged twice for it." in marked
    assert "Maria Santos at the billing office is looking into it." in marked
    links = [a["href"] for a in page.find_all("a") if a.get_text(" ", strip=True).startswith("Dispute this charge")]
    assert links == [f"/statements/{statement.number}/lines/{line.id}/dispute" for line in (second, lines_of(statement)[2])]
    # Disputing changes no money.
    assert summary_for(statement).amount_due.minor == 9000
    assert AuditEvent.query.filter_by(action="line.disputed", subject_id=statement.id).count() == 1
    # Maria's inbox has it, under its own topic.
    inbox = signed_in(client.application, "maria@example.org").get("/staff").get_data(as_text=True)
    assert "A disputed charge" in inbox and statement.number in inbox


def test_bad_disputes_get_a_clear_message_and_nothing_is_stored(client, household, login_as, submit, staff, make):
    user, statement = household
    login_as(user)
    line = lines_of(statement)[0]
    for fields, message in [({"reason": ""}, "Choose why you think this charge is wrong."),
                            ({"reason": "i_just_dont_like_it"}, "Not a valid choice"),
                            ({"message": "   "}, "Tell us what happened, in your own words."),
                            ({"message": "x" * 4001}, "Keep your message to 4000 characters or fewer."),
                            ({"contact_method": "phone", "phone": ""}, "Enter the phone number we should call.")]:
        response = dispute(submit, statement.number, line.id, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    assert stored() == (0, 0, 0)

    # Someone else's statement, a line of another statement, and addresses that are not a line: 404.
    other = make.statement(make.account("Someone Else"), lines=1)
    assert dispute(submit, other.number, lines_of(other)[0].id).status_code == 404
    assert dispute(submit, statement.number, lines_of(other)[0].id).status_code == 404
    for bad in ("abc", "²", "99999999999", "-1"):
        assert client.get(f"/statements/{statement.number}/lines/{bad}/dispute").status_code == 404
    assert stored() == (0, 0, 0)

    # Once disputed, a second dispute of the same line is refused and points to the first.
    assert dispute(submit, statement.number, line.id).status_code == 302
    again = dispute(submit, statement.number, line.id)
    assert again.status_code == 409
    text = again.get_data(as_text=True)
    assert "This charge is already disputed" in text and LineDispute.query.one().question.public_id in text
    assert stored() == (1, 1, 0)


def test_a_line_with_nothing_to_pay_is_not_disputed_but_can_be_asked_about(client, make, login_as, submit, staff):
    account = make.account()
    statement = make.statement(account, lines=1)
    line = lines_of(statement)[0]
    line.deductible, line.copay, line.coinsurance, line.not_covered = 0, 0, 0, 0
    line.insurance_paid = 7000
    db.session.commit()
    login_as(make.user(accounts=[account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    assert not [a for a in page.find_all("a") if a.get_text(strip=True).startswith("Dispute this charge")]
    shown = client.get(f"/statements/{statement.number}/lines/{line.id}/dispute").get_data(as_text=True)
    assert "You owe nothing for this charge" in shown and f"/statements/{statement.number}/ask?line={line.id}" in shown
    assert dispute(submit, statement.number, line.id).status_code == 409
    assert stored() == (0, 0, 0)


def test_staff_cannot_raise_a_dispute_and_a_guest_can(app, client, make, submit, staff):
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    line = lines_of(statement)[0]
    assert signed_in(app, "boss@example.org").get(
        f"/statements/{statement.number}/lines/{line.id}/dispute").status_code == 404
    # Without a login or a quick-pay grant: 404 too.
    assert client.get(f"/statements/{statement.number}/lines/{line.id}/dispute").status_code == 404
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    refused = dispute(submit, statement.number, line.id, email="")
    assert refused.status_code == 400 and "Enter your email address" in refused.get_data(as_text=True)
    assert dispute(submit, statement.number, line.id, email="guest@example.org").status_code == 302
    question = LineDispute.query.one().question
    assert question.asked_by_user_id is None and question.contact_email == "guest@example.org"
    assert AuditEvent.query.filter_by(action="line.disputed").one().actor_kind == "guest"


def test_staff_correct_a_charge_and_every_balance_counts_it(app, client, disputed, staff, runner):
    statement, line, question = disputed
    desk = signed_in(app, "maria@example.org")
    page = soup(desk.get(f"/staff/questions/{question.public_id}"))
    box = page.find("section", class_="dispute").get_text(" ", strip=True)
    assert "Why the patient disputes it: I was charged twice for it" in box
    assert "At most $30.00: what the patient still owes for this charge." in box
    assert [label.get_text(strip=True) for label in page.find("fieldset", id="resolve-outcome").find_all("label")] == [
        "Corrected: take money off this charge", "Explained: the charge is right as billed",
        "Sent to insurance to be looked at again"]

    response = resolve(desk, question, amount="30.00")
    assert response.status_code == 302
    adjustment = BalanceAdjustment.query.one()
    assert (adjustment.statement_id, adjustment.line_item_id, adjustment.amount, adjustment.currency,
            adjustment.reason, adjustment.created_by_user_id) == (statement.id, line.id, 3000, "USD",
                                                                  "dispute_correction", staff["Maria"].id)
    decided = LineDispute.query.one()
    assert (decided.outcome, decided.adjustment_id, decided.resolved_by_user_id) == ("corrected", adjustment.id,
                                                                                    staff["Maria"].id)
    db.session.refresh(question)
    assert question.status == RESOLVED
    assert question.messages[-1].body == "You are right: it was entered twice. We took it off."
    assert not question.messages[-1].internal
    # The patient is told by email that an answer is waiting.
    assert OutgoingMail.query.filter_by(kind="question_reply", recipient="pat@example.org").count() == 1
    assert AuditEvent.query.filter_by(action="dispute.resolved").count() == 1

    # Every balance: the list, the page, the summary, the PDF, and what the pay page lets them pay.
    assert summary_for(statement).amount_due.minor == 6000
    assert summaries_for_accounts([statement.account_id])[0].amount_due.minor == 6000
    with app.test_request_context():
        page_data = statement_page(statement, "en")
    assert page_data.summary.amount_due.minor == 6000 and page_data.credits == {line.id: 3000}
    assert "$60.00" in client.get("/statements").get_data(as_text=True)
    page = soup(client.get(f"/statements/{statement.number}"))
    text = page.get_text(" ", strip=True)
    assert "You owe $60.00 by" in text
    assert "After reviewing the bill, the billing office has taken $30.00 off it." in text
    assert "After reviewing this charge, the billing office took $30.00 off it, so your share of it is now $0.00." in text
    corrected = page.find(class_="dispute").get_text(" ", strip=True)
    assert "Corrected" in corrected and "the billing office took $30.00 off it" in corrected
    assert "You are right: it was entered twice." in corrected
    rows = [(dt.get_text(" ", strip=True), dd.get_text(strip=True)) for dt, dd in
            ((div.find("dt"), div.find("dd")) for div in page.find("li", class_="line").select("dl.amounts > div"))]
    assert rows[-3:] == [("You owe", "$30.00"), ("Taken off by the billing office", "$30.00"),
                         ("You owe now", "$0.00")]
    # Nothing left to dispute on that line.
    assert f"/lines/{line.id}/dispute" not in str(page)
    pay = client.get(f"/statements/{statement.number}/pay").get_data(as_text=True)
    assert "$60.00" in pay and "$90.00" not in pay
    with app.test_request_context():
        printed = printing.statement_pdf(statement, printing.Language("en"))
    pdf_text = full_text(printed.data)
    assert "Taken off by the billing office" in pdf_text and "the billing office took $30.00 off it" in pdf_text

    # The day's export takes the adjustment back to the billing system.
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["payments", "export", "--date", today]).output)))
    assert [(r["type"], r["statement"], r["amount"], r["amount_minor"], r["payment_reference"]) for r in rows] == [
        ("adjustment", statement.number, "30.00", "3000", adjustment.public_id)]
    bundle = json.loads(runner.invoke(args=["payments", "export", "--date", today, "--format", "fhir"]).output,
                        parse_float=Decimal)
    resource = bundle["entry"][0]["resource"]
    assert resource["identifier"][0] == {"use": "official", "system": "urn:patient-billing-portal:balance-adjustment",
                                         "value": adjustment.public_id}
    assert resource["paymentAmount"] == {"value": Decimal("0.00"), "currency": "USD"}
    assert resource["detail"][0]["amount"] == {"value": Decimal("30.00"), "currency": "USD"}
    assert resource["detail"][0]["type"]["coding"][0]["code"] == "adjustment"
    assert "paymentIdentifier" not in resource and "payee" not in resource["detail"][0]


def test_bad_resolutions_are_refused_and_nothing_is_posted(app, disputed, submit, staff):
    statement, line, question = disputed
    desk = signed_in(app, "maria@example.org")
    for fields, message in [({"amount": "30.01"}, "That is more than the patient owes for this charge."),
                            ({"amount": ""}, "Enter the amount to take off the charge."),
                            ({"amount": "ten"}, "Enter an amount such as 25.00."),
                            ({"amount": "1.234"}, "Enter the amount to the cent"),
                            ({"amount": "-5"}, "Enter an amount more than zero."),
                            ({"amount": "0"}, "Enter an amount more than zero."),
                            ({"outcome": "explained", "amount": "5.00"}, "Leave the amount empty unless"),
                            ({"outcome": "refunded"}, "Not a valid choice"),
                            ({"outcome": ""}, "Choose the outcome."),
                            ({"message": ""}, "Tell the patient what was decided and why.")]:
        response = resolve(desk, question, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), (fields, message)
    db.session.expire_all()
    assert stored() == (1, 1, 0) and LineDispute.query.one().is_open
    assert Question.query.one().status != RESOLVED
    # Someone else's dispute is 404 to another staff member.
    james = signed_in(app, "james@example.org")
    assert james.post(f"/staff/questions/{question.public_id}/dispute",
                      data={"resolve-csrf_token": csrf_token(james, "/staff")}).status_code == 404
    # A question that is not a dispute has nothing to resolve.
    submit(f"/statements/{statement.number}/ask", {"topic": "charges", "message": "Why?", "language": "en",
                                                   "contact_method": "email", "email": "pat@example.org"})
    plain = Question.query.filter_by(topic="charges").one()
    boss = signed_in(app, "boss@example.org")
    token = csrf_token(boss, f"/staff/questions/{plain.public_id}")
    assert boss.post(f"/staff/questions/{plain.public_id}/dispute",
                     data={"resolve-csrf_token": token}).status_code == 404


def test_a_decided_dispute_is_decided_once(app, disputed, staff):
    statement, _line, question = disputed
    desk = signed_in(app, "maria@example.org")
    url = f"/staff/questions/{question.public_id}"
    token = re.search(r'name="resolve-csrf_token" type="hidden" value="([^"]+)"',
                      desk.get(url).get_data(as_text=True)).group(1)
    form = {"resolve-csrf_token": token, "resolve-outcome": "corrected", "resolve-amount": "10.00",
            "resolve-message": "Corrected."}
    assert desk.post(f"{url}/dispute", data=form).status_code == 302
    # The same form sent again (a double click, a second tab): no second adjustment.
    again = desk.post(f"{url}/dispute", data=form, follow_redirects=True)
    assert "This dispute was already decided." in again.get_data(as_text=True)
    assert BalanceAdjustment.query.count() == 1 and summary_for(statement).amount_due.minor == 8000
    # And through the service, as a task or a second process would call it.
    with pytest.raises(services.DisputeError) as refused:
        services.resolve(LineDispute.query.one(), outcome="corrected", note="Again", amount=100, by=staff["Maria"])
    assert refused.value.code == "already_resolved"
    db.session.rollback()
    assert BalanceAdjustment.query.count() == 1


@pytest.mark.parametrize("outcome, label, sentence", [
    ("explained", "Explained", "The billing office looked into your dispute of this charge and explained it."),
    ("sent_to_insurance", "Sent to your insurance",
     "Your dispute of this charge was sent to your insurance to look at again."),
])
def test_explained_or_sent_to_insurance_takes_nothing_off(app, client, household, login_as, submit, staff, outcome,
                                                          label, sentence):
    user, statement = household
    login_as(user)
    line = lines_of(statement)[1]
    dispute(submit, statement.number, line.id, reason="insurance_should_pay")
    question = Question.query.one()
    assert resolve(signed_in(app, "maria@example.org"), question, outcome=outcome,
                   message="The plan does not cover this service.").status_code == 302
    assert BalanceAdjustment.query.count() == 0 and summary_for(statement).amount_due.minor == 9000
    box = soup(client.get(f"/statements/{statement.number}")).find(class_="dispute").get_text(" ", strip=True)
    assert label in box and sentence in box and "The plan does not cover this service." in box
    thread = client.get(f"/questions/{question.public_id}").get_data(as_text=True)
    assert label in thread and "The plan does not cover this service." in thread
    # Decided, so the line may be disputed again (a new dispute, a new question).
    assert dispute(submit, statement.number, line.id, reason="other").status_code == 302
    assert LineDispute.query.count() == 2


def test_a_correction_after_paying_in_full_leaves_a_credit(app, client, household, login_as, submit, staff, make):
    user, statement = household
    make.payment(statement, 9000, succeeded_at=datetime.now(ZoneInfo("UTC")))
    login_as(user)
    dispute(submit, statement.number, lines_of(statement)[2].id)
    assert resolve(signed_in(app, "maria@example.org"), Question.query.one(), amount="12.50").status_code == 302
    assert summary_for(statement).amount_due.minor == -1250
    text = soup(client.get(f"/statements/{statement.number}")).get_text(" ", strip=True)
    assert "You have paid $12.50 more than you owe." in text and "Ask the billing office about a refund." in text
    # Nothing to pay: the pay page says so rather than taking money.
    assert "Pay this bill" not in text


def test_a_dispute_and_its_decision_print_a_new_statement(app, client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    with app.test_request_context():
        before = printing.content_version(statement, "en")
    dispute(submit, statement.number, lines_of(statement)[0].id)
    with app.test_request_context():
        disputed = printing.content_version(statement, "en")
        assert disputed != before
        text = full_text(printing.statement_pdf(statement, printing.Language("en")).data)
    assert "You disputed this charge: I was charged twice for it." in text
    resolve(signed_in(app, "maria@example.org"), Question.query.one(), amount="5.00")
    with app.test_request_context():
        assert printing.content_version(statement, "en") not in (before, disputed)


def test_a_dispute_reads_in_the_patients_language(client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    submit("/language", {"language": "es", "next": "/statements"}, page="/statements")
    line = lines_of(statement)[0]
    page = soup(client.get(f"/statements/{statement.number}/lines/{line.id}/dispute"))
    assert page.find("h1").get_text(strip=True) == "Disputar este cargo"
    assert "Me lo cobraron dos veces" in page.find("fieldset", id="reason").get_text()
    dispute(submit, statement.number, line.id, language="es")
    text = soup(client.get(f"/statements/{statement.number}")).get_text(" ", strip=True)
    assert "Usted disputó este cargo: Me lo cobraron dos veces. Maria Santos, de la oficina de facturación, lo está revisando." in text


def test_two_disputes_of_one_line_at_once_leave_one(app, household, staff, monkeypatch):
    """Two requests that both found the line undisputed: the database's unique index on open disputes refuses
    the second, and its question goes with it."""
    statement = household[1]
    line = lines_of(statement)[0]
    new = NewQuestion("dispute", WHY, "en", "email", "pat@example.org")
    services.open_dispute(statement, line, "charged_twice", new, user=None)
    db.session.commit()
    monkeypatch.setattr(services, "open_dispute_on", lambda line_id: None)  # as if it raced the first
    with pytest.raises(services.DisputeError) as refused:
        services.open_dispute(statement, line, "other", new, user=None)
    assert refused.value.code == "already_open"
    db.session.commit()
    assert stored() == (1, 1, 0)


def test_every_balance_agrees_after_corrections_and_payments(app, make, staff):
    """The SQL balance of lists, the statement page's own sum and the printed statement's version agree, to the
    cent, whatever mix of corrections, payments and refunds a statement has."""
    account = make.account()
    statement = make.statement(account, lines=6, visits=2)
    make.payment(statement, 2500, refunded=700)
    make.payment(statement, 1000, status="failed")
    new = NewQuestion("dispute", WHY, "en", "email", "pat@example.org")
    for index, line in enumerate(lines_of(statement)[:4]):
        opened = services.open_dispute(statement, line, "charged_twice", new, user=None)
        if index < 3:
            services.resolve(opened, outcome="corrected", note="Fixed.", amount=[1, 1500, 3000][index],
                             by=staff["Maria"])
    db.session.commit()
    expected = 18000 - (1 + 1500 + 3000) - (2500 - 700)
    assert summary_for(statement).amount_due.minor == expected
    assert summaries_for_accounts([account.id])[0].amount_due.minor == expected
    with app.test_request_context():
        page = statement_page(statement, "en")
        assert page.summary.amount_due.minor == expected
        assert page.totals.credited == 4501 and sum(page.credits.values()) == 4501
        assert sum(totals.credited for _visit, totals in page.visits) == 4501
        # What each line shows as owed now adds up to the statement's amount before payments.
        assert sum(line.patient_owes_minor - page.credits.get(line.id, 0)
                   for line in lines_of(statement)) == expected + 1800
        assert any("has taken $45.01 off it" in sentence for sentence in page.why_statement)
    # A line cannot be corrected below nothing.
    fourth = LineDispute.query.filter(LineDispute.outcome.is_(None)).one()
    with pytest.raises(services.DisputeError):
        services.resolve(fourth, outcome="corrected", note="Too much.", amount=3001, by=staff["Maria"])
    db.session.rollback()
    assert summary_for(statement).amount_due.minor == expected


def test_a_disputed_line_the_billing_system_takes_back_keeps_its_dispute_and_its_money(runner, make, staff, tmp_path):
    """A cancelled visit (or a corrected claim without the line) removes a disputed, corrected line: the import
    goes through, the dispute and its conversation stay, and the correction stays on the statement."""
    from .test_import_csv import GOOD, HEADER

    make.organisation()
    path = tmp_path / "feed.csv"
    path.write_text("\n".join([HEADER, GOOD]) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "csv", str(path)]).exit_code == 0
    statement = Statement.query.one()
    line = lines_of(statement)[0]
    new = NewQuestion("dispute", WHY, "en", "email", "pat@example.org")
    corrected = services.open_dispute(statement, line, "charged_twice", new, user=None)
    services.resolve(corrected, outcome="corrected", note="Fixed.", amount=1000, by=staff["Maria"])
    db.session.commit()
    due = summary_for(statement).amount_due.minor
    path.write_text("\n".join([HEADER + ",status", GOOD + ",cancelled"]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", "csv", str(path)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    kept = LineDispute.query.one()
    assert kept.line_item_id is None and kept.outcome == "corrected" and kept.question is not None
    assert BalanceAdjustment.query.one().line_item_id is None
    # Nothing left to owe on the statement, and the correction is not lost: a credit the billing office settles.
    assert summary_for(statement).amount_due.minor == -1000 and due != -1000


def test_an_open_dispute_of_a_line_taken_back_can_be_explained_not_corrected(app, runner, make, staff, tmp_path):
    from .test_import_csv import GOOD, HEADER

    make.organisation()
    path = tmp_path / "feed.csv"
    path.write_text("\n".join([HEADER, GOOD]) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "csv", str(path)]).exit_code == 0
    statement = Statement.query.one()
    opened = services.open_dispute(statement, lines_of(statement)[0], "not_received",
                                   NewQuestion("dispute", WHY, "en", "email", "pat@example.org"), user=None)
    db.session.commit()
    question = opened.question
    path.write_text("\n".join([HEADER + ",status", GOOD + ",cancelled"]) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "csv", str(path)]).exit_code == 0
    desk = signed_in(app, "maria@example.org")
    page = desk.get(f"/staff/questions/{question.public_id}").get_data(as_text=True)
    assert "The billing system has taken this charge off the bill since" in page
    refused = resolve(desk, question, amount="1.00")
    assert refused.status_code == 400 and "nothing left to correct" in refused.get_data(as_text=True)
    assert resolve(desk, question, outcome="explained", message="It was cancelled.").status_code == 302
    assert LineDispute.query.one().outcome == "explained" and BalanceAdjustment.query.count() == 0
    patient = signed_in(app, make.user("pat@example.org", accounts=[statement.account]).email)
    thread = patient.get(f"/questions/{question.public_id}").get_data(as_text=True)
    assert "No longer on the bill: the billing system took it back." in thread


def test_a_corrected_line_moved_to_another_statement_leaves_its_correction_where_it_was_posted(app, client, make,
                                                                                              staff):
    """The billing system may move a visit to another statement (a new billing period). Its correction stays on
    the statement it was posted on and exported with, and both statements still open."""
    account = make.account()
    first = make.statement(account, lines=2)
    second = make.statement(account, lines=1)
    line = lines_of(first)[0]
    opened = services.open_dispute(first, line, "charged_twice",
                                   NewQuestion("dispute", WHY, "en", "email", "pat@example.org"), user=None)
    services.resolve(opened, outcome="corrected", note="Fixed.", amount=1000, by=staff["Maria"])
    line.visit.statement = second
    db.session.commit()
    signed_in_patient = signed_in(app, make.user(accounts=[account]).email)
    for statement in (first, second):
        assert signed_in_patient.get(f"/statements/{statement.number}").status_code == 200
    assert summary_for(first).amount_due.minor == -1000
