"""Financial assistance: the public policy page, an application screened at once against the federal poverty
guidelines, proof of income checked by content and served only to staff, the hold on collection, and the billing
office's decision, whose discount every balance counts."""
from __future__ import annotations

import csv
import io
import os
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.assistance import screening, uploads
from portal.assistance.models import AssistanceApplication, AssistanceDocument
from portal.assistance.services import SHIPPED_GUIDELINES
from portal.audit.models import AuditEvent
from portal.billing.models import BalanceAdjustment
from portal.billing.services import summary_for
from portal.extensions import db
from portal.outbox.models import OutgoingMail
from portal.questions.models import RESOLVED, Question, StaffProfile

from .conftest import csrf_token
from .pages import soup

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GUIDELINES_2025 = screening.load_guidelines(SHIPPED_GUIDELINES, 2025, "contiguous")
TIERS = screening.tiers_from([[200, 100], [300, 50], [400, 25]])


@pytest.fixture
def staff(make):
    """Georgi handles financial assistance; Maria does not; Patricia supervises."""
    people = {}
    for email, name, role, topics in [
        ("georgi@example.org", "Georgi Ivanov", "staff", ["financial_assistance"]),
        ("maria@example.org", "Maria Santos", "staff", ["charges"]),
        ("boss@example.org", "Patricia Okafor", "supervisor", []),
    ]:
        user = make.user(email, role=role)
        db.session.add(StaffProfile(user=user, display_name=name, job_title="Financial counselor",
                                    languages=["en", "es"], topics=topics))
        people[name.split()[0]] = user
    db.session.commit()
    return people


def upload_dir(app) -> str:
    return app.config["FINANCIAL_ASSISTANCE_UPLOAD_DIR"]


def stored_files(app) -> list[str]:
    path = upload_dir(app)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def apply(client, number: str, files=(), **fields):
    url = f"/statements/{number}/financial-assistance"
    data = {"household_size": "3", "annual_income": "30,000", "message": "", "language": "en",
            "contact_method": "email", "email": "pat@example.org", "phone": "", "confirm": "y",
            "csrf_token": csrf_token(client, url)}
    data.update(fields)
    data["documents"] = [(io.BytesIO(content), name, mimetype) for name, content, mimetype in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def signed_in(app, email: str):
    desk = app.test_client()
    desk.post("/login", data={"email": email, "password": "correct horse battery",
                              "csrf_token": csrf_token(desk, "/login")})
    return desk


# --- The screening: pure arithmetic ------------------------------------------------------------------------------

def test_the_guidelines_for_each_household_size():
    assert [GUIDELINES_2025.for_household(size) for size in (1, 2, 4, 8)] == [1565000, 2115000, 3215000, 5415000]
    alaska = screening.load_guidelines(SHIPPED_GUIDELINES, 2025, "alaska")
    assert alaska.for_household(1) == 1955000 and alaska.for_household(3) == 1955000 + 2 * 688000
    assert screening.load_guidelines(SHIPPED_GUIDELINES, None, "contiguous").year == 2025  # the latest file
    assert screening.load_guidelines(SHIPPED_GUIDELINES, 2024, "hawaii").first_person == 1731000
    for bad in ((2019, "contiguous"), (2025, "mars")):
        with pytest.raises(screening.GuidelinesError):
            screening.load_guidelines(SHIPPED_GUIDELINES, *bad)
    with pytest.raises(ValueError):
        GUIDELINES_2025.for_household(0)


def test_a_household_exactly_at_a_limit_is_inside_it():
    guideline = GUIDELINES_2025.for_household(3)  # 26,650.00
    assert screening.screen(guideline * 2, 3, GUIDELINES_2025, TIERS) == screening.Screening(guideline, 200, 100)
    assert screening.screen(guideline * 2 + 100, 3, GUIDELINES_2025, TIERS).discount_percent == 50
    assert screening.screen(guideline * 4, 3, GUIDELINES_2025, TIERS).discount_percent == 25
    assert screening.screen(guideline * 4 + 100, 3, GUIDELINES_2025, TIERS).discount_percent is None
    assert screening.screen(0, 1, GUIDELINES_2025, TIERS) == screening.Screening(1565000, 0, 100)
    with pytest.raises(ValueError):
        screening.tiers_from([[200, 0]])


@given(income=st.integers(0, 10**9), more=st.integers(0, 10**7), size=st.integers(1, screening.MAX_HOUSEHOLD))
def test_more_income_never_means_more_help_and_a_larger_household_never_less(income, more, size):
    def discount(result: screening.Screening) -> int:
        return result.discount_percent or 0

    base = screening.screen(income, size, GUIDELINES_2025, TIERS)
    assert base.percent == income * 100 // GUIDELINES_2025.for_household(size)
    assert discount(screening.screen(income + more, size, GUIDELINES_2025, TIERS)) <= discount(base)
    if size < screening.MAX_HOUSEHOLD:
        assert discount(screening.screen(income, size + 1, GUIDELINES_2025, TIERS)) >= discount(base)


# --- The policy page -----------------------------------------------------------------------------------------------

def test_the_policy_is_public_and_linked_from_every_page_and_statement(client, household, login_as):
    page = soup(client.get("/financial-assistance"))
    assert page.find("h1").get_text(strip=True) == "Financial assistance"
    text = page.get_text(" ", strip=True)
    assert "Household income up to 200% of the federal poverty guidelines: you pay nothing." in text
    assert "Household income up to 300% of the federal poverty guidelines: 50% off what you owe." in text
    assert "You can apply up to 240 days after your first bill." in text
    assert "we do not send your account to collection" in text
    # The income limits for households of 1 to 6: 200% of 2025's guideline for one person is 31,300.00.
    table = page.find("table", class_="income-limits")
    assert "2025 guidelines" in table.find("caption").get_text()
    first = [cell.get_text(strip=True) for cell in table.find("tbody").find("tr").find_all(["th", "td"])]
    assert first == ["1", "$31,300", "$46,950", "$62,600"]
    # Signed out: how to get to a bill to apply from.
    assert page.find("a", href="/quick-pay") is not None
    # Every page's footer links to it, and every statement.
    assert soup(client.get("/login")).find("footer").find("a", href="/financial-assistance") is not None
    user, statement = household
    login_as(user)
    main = soup(client.get(f"/statements/{statement.number}")).find("main")
    assert main.find("a", href="/financial-assistance") is not None
    links = [a["href"] for a in soup(client.get("/financial-assistance")).find_all("a", class_="button")]
    assert f"/statements/{statement.number}/financial-assistance" in links


# --- Applying ------------------------------------------------------------------------------------------------------

def test_a_patient_applies_sees_the_estimate_at_once_and_collection_goes_on_hold(app, client, household, login_as,
                                                                                  staff):
    user, statement = household
    login_as(user)
    form = soup(client.get(f"/statements/{statement.number}/financial-assistance"))
    assert form.find("main").find("form")["enctype"] == "multipart/form-data"
    for field in form.find("main").find("form").find_all(["input", "textarea", "select"]):
        if field.get("type") not in ("hidden", "radio"):
            assert form.find("label", attrs={"for": field["id"]}) is not None, field
    response = apply(client, statement.number, files=[("payslip.pdf", PDF, "application/pdf"),
                                                      ("Benefits letter.PNG", PNG, "image/png")],
                     message="I lost my job in March.")
    assert response.status_code == 302, response.get_data(as_text=True)
    application = AssistanceApplication.query.one()
    assert (application.household_size, application.annual_income, application.poverty_percent,
            application.preliminary_discount, application.guideline_year) == (3, 3000000, 112, 100, 2025)
    question = application.question
    assert (question.topic, question.assigned_staff_id, question.messages[0].body) == (
        "financial_assistance", staff["Georgi"].id, "I lost my job in March.")
    assert response.headers["Location"] == f"/questions/{question.public_id}"
    thread = soup(client.get(response.headers["Location"])).find("section", class_="assistance").get_text(" ", strip=True)
    assert ("Your household's income is 112% of the federal poverty guideline for 3 people ($26,650.00 a year in "
            "2025).") in thread
    assert "Under our policy, that could mean you pay nothing for this bill." in thread
    assert "This is an estimate, not a decision" in thread and "2 files" in thread
    # The proof is on disk outside the web root under random names, exactly as sent.
    documents = AssistanceDocument.query.order_by(AssistanceDocument.id).all()
    assert [(d.kind, d.filename, d.size) for d in documents] == [("pdf", "payslip.pdf", len(PDF)),
                                                                  ("png", "Benefits letter.PNG", len(PNG))]
    assert stored_files(app) == sorted(d.stored_name for d in documents)
    assert not any(name in ("payslip.pdf", "Benefits letter.PNG") for name in stored_files(app))
    with open(os.path.join(upload_dir(app), documents[0].stored_name), "rb") as handle:
        assert handle.read() == PDF
    assert not os.path.abspath(upload_dir(app)).startswith(os.path.abspath(app.static_folder))
    # On hold: the statement says so, and so does the command the billing system reads.
    text = soup(client.get(f"/statements/{statement.number}")).get_text(" ", strip=True)
    assert "You applied for financial assistance on" in text and "we do not send your account to collection" in text
    holds = list(csv.DictReader(io.StringIO(app.test_cli_runner().invoke(args=["assistance", "holds"]).output)))
    assert [(h["account"], h["statement"], h["application"]) for h in holds] == [
        (statement.account.number, statement.number, application.public_id)]
    assert AuditEvent.query.filter_by(action="assistance.applied").count() == 1
    # No second application while this one is decided.
    again = apply(client, statement.number)
    assert again.status_code == 409 and "the billing office is deciding" in again.get_data(as_text=True)
    assert AssistanceApplication.query.count() == 1


def test_an_application_with_no_message_says_what_it_is(client, household, login_as, staff):
    user, statement = household
    login_as(user)
    assert apply(client, statement.number, household_size="1", annual_income="80000").status_code == 302
    question = Question.query.one()
    assert question.messages[0].body == ("I am applying for financial assistance: 1 people in my household, "
                                         "$80,000.00 a year.")
    text = client.get(f"/questions/{question.public_id}").get_data(as_text=True)
    assert "That is above the income limits of our policy." in text
    assert AssistanceApplication.query.one().preliminary_discount is None


@pytest.mark.parametrize("fields, files, message", [
    ({"household_size": "0"}, (), "Enter how many people live in your household, as a number from 1 to 20."),
    ({"household_size": "21"}, (), "as a number from 1 to 20."),
    ({"household_size": "three"}, (), "as a number from 1 to 20."),
    ({"household_size": "٣"}, (), "as a number from 1 to 20."),
    ({"annual_income": ""}, (), "Enter 0 if there is none."),
    ({"annual_income": "lots"}, (), "Enter the income as a number, such as 24000."),
    ({"annual_income": "-5"}, (), "The income cannot be less than 0."),
    ({"annual_income": "1.001"}, (), "Enter the income to the cent"),
    ({"confirm": ""}, (), "Confirm that what you have written is true."),
    # (10 MB itself is checked below, without sending it: here the limit is lowered to 1 KB.)
    ({}, [("big.pdf", PDF + b"0" * 1024, "application/pdf")], "big.pdf is larger than 10 MB."),
    ({}, [("empty.pdf", b"", "application/pdf")], "empty.pdf is empty."),
    ({}, [("notes.pdf", b"just some text", "application/pdf")], "notes.pdf is not a PDF, JPEG or PNG file."),
    ({}, [("scan.pdf", PNG, "application/pdf")], "scan.pdf is not the kind of file its name says."),
    ({}, [("photo.png", JPEG, "image/png")], "photo.png is not the kind of file its name says."),
    ({}, [("page.html", b"<html><script>alert(1)</script>", "text/html")], "page.html is not a PDF, JPEG or PNG"),
    ({}, [(f"p{i}.pdf", PDF, "application/pdf") for i in range(4)], "Send at most 3 files."),
])
def test_bad_applications_get_a_clear_message_and_nothing_is_stored(app, client, household, login_as, staff, fields,
                                                                   files, message, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 1024)
    user, statement = household
    login_as(user)
    response = apply(client, statement.number, files=files, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert AssistanceApplication.query.count() == Question.query.count() == AssistanceDocument.query.count() == 0
    assert stored_files(app) == []


def test_a_file_of_10_mb_is_taken_and_one_byte_more_is_not():
    exactly = PDF + b"0" * (10 * 1024 * 1024 - len(PDF))
    assert uploads.check("scan.pdf", "application/pdf", exactly).kind == "pdf"
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check("scan.pdf", "application/pdf", exactly + b"0")
    assert refused.value.code == "too_large"
    # A name from another system keeps only its last part, without control characters.
    assert uploads.clean_filename("C:\\Users\\pat\\pay\x00slip.PDF") == "payslip.PDF"
    assert uploads.clean_filename("../../etc/passwd") == "passwd"


def test_more_than_the_request_limit_is_refused_before_it_is_read(client, household, login_as, staff):
    user, statement = household
    login_as(user)
    url = f"/statements/{statement.number}/financial-assistance"
    # What a browser would say it is about to send: refused on the length alone, before any of it is read.
    response = client.post(url, data={"csrf_token": csrf_token(client, url)},
                           environ_overrides={"CONTENT_LENGTH": str(33 * 1024 * 1024)})
    assert response.status_code == 413
    assert AssistanceApplication.query.count() == 0


def test_a_guest_applies_and_staff_cannot_apply_for_a_patient(app, client, make, submit, staff):
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    assert client.get(f"/statements/{statement.number}/financial-assistance").status_code == 404
    assert signed_in(app, "boss@example.org").get(
        f"/statements/{statement.number}/financial-assistance").status_code == 404
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    links = [a["href"] for a in soup(client.get("/financial-assistance")).find_all("a", class_="button")]
    assert links == [f"/statements/{statement.number}/financial-assistance"]
    assert apply(client, statement.number, email="").status_code == 400
    assert apply(client, statement.number, email="guest@example.org").status_code == 302
    application = AssistanceApplication.query.one()
    assert application.applied_by_user_id is None and application.question.contact_email == "guest@example.org"


def test_a_hospital_that_bills_in_another_currency_takes_applications_by_phone(make_app, make, staff):
    app = make_app()
    with app.app_context():
        make.organisation(currency="EUR")
        account = make.account()
        statement = make.statement(account, lines=1)
        statement.currency = "EUR"
        user = make.user("euro@example.org", accounts=[account])
        db.session.commit()
        client = signed_in(app, user.email)
        page = client.get(f"/statements/{statement.number}/financial-assistance").get_data(as_text=True)
        assert "Online applications are not available for this bill" in page


# --- Staff: the proof and the decision -----------------------------------------------------------------------------

@pytest.fixture
def applied(app, client, household, login_as, staff):
    """The household's patient has applied with a payslip: (statement, application)."""
    user, statement = household
    login_as(user)
    assert apply(client, statement.number, files=[("payslip.pdf", PDF, "application/pdf")]).status_code == 302
    return statement, AssistanceApplication.query.one()


def test_only_the_staff_member_deciding_and_supervisors_open_the_proof(app, client, applied, staff):
    statement, application = applied
    url = f"/staff/assistance/documents/{application.documents[0].public_id}"
    georgi = signed_in(app, "georgi@example.org")
    response = georgi.get(url)
    assert response.status_code == 200 and response.get_data() == PDF
    assert response.mimetype == "application/pdf" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert signed_in(app, "boss@example.org").get(url).status_code == 200
    assert signed_in(app, "maria@example.org").get(url).status_code == 404
    assert client.get(url).status_code == 404  # the patient who sent it: staff only
    assert app.test_client().get(url).status_code == 404
    assert georgi.get("/staff/assistance/documents/not-a-document").status_code == 404
    assert AuditEvent.query.filter_by(action="assistance.document_viewed").count() == 2
    page = georgi.get(f"/staff/questions/{application.question.public_id}").get_data(as_text=True)
    assert url in page and "payslip.pdf" in page and "Collection is on hold until this is decided." in page


def decide(desk, question: Question, **fields):
    url = f"/staff/questions/{question.public_id}"
    page = desk.get(url).get_data(as_text=True)
    token = re.search(r'name="decide-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"decide-csrf_token": token, "decide-decision": "approved", "decide-amount": "",
            "decide-message": "Approved: you pay nothing for this bill."}
    data.update({f"decide-{key}": value for key, value in fields.items()})
    return desk.post(f"{url}/assistance", data=data)


def test_an_approval_takes_the_discount_off_and_lifts_the_hold(app, client, applied, staff, runner):
    statement, application = applied
    georgi = signed_in(app, "georgi@example.org")
    page = soup(georgi.get(f"/staff/questions/{application.question.public_id}"))
    # The preliminary 100% of the $90.00 due, ready to be taken off.
    assert page.find("input", id="decide-amount")["value"] == "$90.00"
    for fields, message in [({"amount": "90.01"}, "That is more than the patient's share of this bill."),
                            ({"decision": "denied", "amount": "5"}, "Leave the discount empty when"),
                            ({"decision": ""}, "Choose the decision."),
                            ({"amount": "nine"}, "Enter an amount such as 25.00.")]:
        refused = decide(georgi, application.question, **fields)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), fields
    assert BalanceAdjustment.query.count() == 0
    assert decide(georgi, application.question, amount="90.00").status_code == 302
    db.session.expire_all()
    application = AssistanceApplication.query.one()
    adjustment = BalanceAdjustment.query.one()
    assert (application.status, application.adjustment_id, application.decided_by_user_id) == (
        "approved", adjustment.id, staff["Georgi"].id)
    assert (adjustment.reason, adjustment.line_item_id, adjustment.amount) == ("financial_assistance", None, 9000)
    assert summary_for(statement).amount_due.minor == 0
    assert application.question.status == RESOLVED
    assert OutgoingMail.query.filter_by(kind="question_reply").count() == 1
    text = soup(client.get(f"/statements/{statement.number}")).get_text(" ", strip=True)
    assert "Financial assistance took $90.00 off it." in text and "You owe nothing on this bill." in text
    assert "You applied for financial assistance on" not in text  # the hold is lifted
    assert "Approved" in client.get(f"/questions/{application.question.public_id}").get_data(as_text=True)
    assert list(csv.DictReader(io.StringIO(runner.invoke(args=["assistance", "holds"]).output))) == []
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["payments", "export", "--date", today]).output)))
    assert [(r["type"], r["amount_minor"], r["payment_reference"]) for r in rows] == [
        ("adjustment", "9000", adjustment.public_id)]
    # Decided once: the same form again changes nothing.
    again = georgi.post(f"/staff/questions/{application.question.public_id}/assistance",
                        data={"decide-csrf_token": csrf_token(georgi, "/staff"), "decide-decision": "approved",
                              "decide-amount": "90.00", "decide-message": "Again"}, follow_redirects=True)
    assert "This application was already decided." in again.get_data(as_text=True)
    assert BalanceAdjustment.query.count() == 1
    # The patient may apply again later (for another bill, or after their situation changes).
    assert apply(client, statement.number).status_code == 302


def test_a_denial_takes_nothing_off(app, client, applied, staff):
    statement, application = applied
    assert decide(signed_in(app, "georgi@example.org"), application.question, decision="denied",
                  message="Your income is above our limits.").status_code == 302
    db.session.expire_all()
    assert AssistanceApplication.query.one().status == "denied" and BalanceAdjustment.query.count() == 0
    assert summary_for(statement).amount_due.minor == 9000
    thread = client.get(f"/questions/{application.question.public_id}").get_data(as_text=True)
    assert "Not approved" in thread and "Your income is above our limits." in thread
    # Someone else's application is not theirs to decide.
    assert signed_in(app, "maria@example.org").post(
        f"/staff/questions/{application.question.public_id}/assistance").status_code in (400, 404)


def test_the_policy_and_application_read_in_spanish(client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    submit("/language", {"language": "es", "next": "/statements"}, page="/statements")
    page = soup(client.get("/financial-assistance"))
    assert page.find("h1").get_text(strip=True) == "Asistencia financiera"
    form = soup(client.get(f"/statements/{statement.number}/financial-assistance"))
    assert form.find("h1").get_text(strip=True) == "Solicitar asistencia financiera"


def test_the_printed_statement_says_where_to_apply(app, household):
    from portal.statements import services as printing

    from .test_statement_pdf import full_text

    statement = household[1]
    with app.test_request_context():
        text = " ".join(full_text(printing.statement_pdf(statement, printing.Language("en")).data).split())
    assert "Can't afford this bill? You may qualify for financial assistance" in text
    assert "/financial-assistance" in text


def test_two_applications_sent_at_once_leave_one_and_no_stray_file(app, household, staff, monkeypatch):
    """Two requests that both found no pending application (a double click): the database's unique index on
    pending applications refuses the second, its question goes with it, and its proof is not left on disk."""
    from portal.assistance import services
    from portal.questions.services import NewQuestion

    statement = household[1]
    proof = (uploads.check("payslip.pdf", "application/pdf", PDF),)
    new = services.NewApplication(2, 2000000, NewQuestion("financial_assistance", "Help", "en", "email",
                                                          "pat@example.org"), proof)
    services.apply(statement, new, user=None)
    db.session.commit()
    monkeypatch.setattr(services, "pending_for", lambda account_id: None)  # as if it raced the first
    with pytest.raises(services.AssistanceError) as refused:
        services.apply(statement, new, user=None)
    assert refused.value.code == "already_pending"
    db.session.commit()
    assert AssistanceApplication.query.count() == Question.query.count() == AssistanceDocument.query.count() == 1
    assert stored_files(app) == [AssistanceDocument.query.one().stored_name]


def test_what_the_patient_paid_beyond_their_discounted_share_is_a_credit_to_refund(app, client, applied, staff, make):
    """A discount is of the patient's share of the bill, not of what is left to pay: someone who qualifies gets
    back what they paid beyond it."""
    statement, application = applied
    make.payment(statement, 5000, succeeded_at=datetime.now(ZoneInfo("UTC")))
    georgi = signed_in(app, "georgi@example.org")
    page = soup(georgi.get(f"/staff/questions/{application.question.public_id}"))
    assert page.find("input", id="decide-amount")["value"] == "$90.00"
    assert decide(georgi, application.question, amount="90.00").status_code == 302
    assert summary_for(statement).amount_due.minor == -5000
    text = soup(client.get(f"/statements/{statement.number}")).get_text(" ", strip=True)
    assert "Financial assistance took $90.00 off it." in text
    assert "You have paid $50.00 more than you owe." in text and "Ask the billing office about a refund." in text
