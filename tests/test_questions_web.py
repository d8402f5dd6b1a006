"""Asking and answering questions through the app: patients, quick-pay guests, staff and supervisors."""
from __future__ import annotations

import re

import pytest

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.questions.models import Question, StaffProfile

from .pages import soup


@pytest.fixture
def staff(make):
    people = {}
    for email, name, role, languages, topics in [
        ("maria@example.org", "Maria Santos", "staff", ["en", "es"], ["charges", "insurance"]),
        ("james@example.org", "James O'Connor", "staff", ["en"], ["charges", "refund"]),
        ("boss@example.org", "Patricia Okafor", "supervisor", ["en"], []),
    ]:
        user = make.user(email, role=role)
        db.session.add(StaffProfile(user=user, display_name=name, job_title="Billing specialist",
                                    languages=languages, topics=topics))
        people[name.split()[0]] = user
    db.session.commit()
    return people


def ask(submit, number, **fields):
    data = {"topic": "charges", "message": "Why was the X-ray billed twice?", "language": "en",
            "contact_method": "email", "email": "pat@example.org", "phone": ""}
    data.update(fields)
    line = data.pop("line", None)
    url = f"/statements/{number}/ask" + (f"?line={line}" if line else "")
    return submit(url, data)


def test_a_patient_asks_about_a_charge_and_sees_who_will_answer(client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    page = soup(client.get(f"/statements/{statement.number}"))
    assert page.find("a", string="Ask about this bill")
    line = statement.visits[0].lines[0]
    link = page.find("a", href=f"/statements/{statement.number}/ask?line={line.id}")
    assert link is not None and "Ask about this charge" in link.get_text()
    form = soup(client.get(link["href"]))
    assert form.find("label", attrs={"for": "message"}) and form.find("label", attrs={"for": "language"})
    assert [o.get_text() for o in form.find("select", id="language").find_all("option")] == \
        ["English", "Español", "中文", "Tiếng Việt", "العربية", "Български"]
    response = ask(submit, statement.number, line=line.id, language="es", page=link["href"])
    assert response.status_code == 302
    thread = soup(client.get(response.headers["Location"]))
    text = thread.get_text(" ")
    assert "Maria Santos" in text and "MS" in text and "Español" in text and "Expect a reply by" in text
    # Why her, as a patient reads it: what she shares with the question, not how busy anyone is.
    assert "Chosen because this person speaks Spanish and handles charges questions." in text
    assert "open question" not in text
    assert "Waiting for the billing office" in text and "Why was the X-ray billed twice?" in text
    question = Question.query.one()
    assert question.line_item_id == line.id and question.language == "es"
    listing = soup(client.get("/questions")).get_text(" ")
    assert f"Statement {statement.number}" in listing and "Your contact: Maria Santos" in listing
    assert AuditEvent.query.filter_by(action="question.asked").count() == 1


@pytest.mark.parametrize("fields, message", [
    ({"message": ""}, "Write your question."),
    ({"message": "x" * 4001}, "Keep your message to 4000 characters or fewer."),
    ({"topic": "lottery"}, "Not a valid choice"),
    ({"contact_method": "phone", "phone": ""}, "Enter the phone number we should call."),
])
def test_bad_questions_are_refused_with_a_message_and_nothing_stored(client, household, login_as, submit, staff,
                                                                       fields, message):
    user, statement = household
    login_as(user)
    response = ask(submit, statement.number, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert Question.query.count() == 0


def test_a_line_of_someone_elses_statement_is_404(client, household, login_as, submit, make, staff):
    user, statement = household
    other = make.statement(make.account("Other Household"), lines=1)
    login_as(user)
    response = ask(submit, statement.number, line=other.visits[0].lines[0].id,
                   page=f"/statements/{statement.number}/ask")
    assert response.status_code == 404
    assert client.get(f"/statements/{other.number}/ask").status_code == 404
    assert client.get(f"/statements/{statement.number}/ask?line=abc").status_code == 404
    assert Question.query.count() == 0


def test_script_in_a_message_is_shown_as_text(client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    response = ask(submit, statement.number, message='<script>alert("x")</script><b>bold</b>')
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body and "&lt;b&gt;bold" in body


def test_a_quick_pay_guest_asks_with_an_email(client, make, submit, staff):
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    refused = ask(submit, statement.number, email="")
    assert refused.status_code == 400 and "Enter your email address" in refused.get_data(as_text=True)
    response = ask(submit, statement.number, email="guest@example.org")
    assert response.status_code == 302
    assert "Maria Santos" in client.get(response.headers["Location"]).get_data(as_text=True) or \
        "James O'Connor" in client.get(response.headers["Location"]).get_data(as_text=True)
    question = Question.query.one()
    assert question.asked_by_user_id is None and question.contact_email == "guest@example.org"


def _sign_in(app, email):
    from .conftest import csrf_token

    browser = app.test_client()
    browser.post("/login", data={"email": email, "password": "correct horse battery",
                                 "csrf_token": csrf_token(browser, "/login")})
    return browser


def test_staff_answer_in_their_inbox_and_the_patient_reads_it(app, client, household, login_as, submit, staff):
    user, statement = household
    login_as(user)
    thread_url = ask(submit, statement.number).headers["Location"]
    question = Question.query.one()
    assignee = next(u for u in staff.values() if u.id == question.assigned_staff_id)
    other = next(u for u in staff.values() if u.id not in (assignee.id, staff["Patricia"].id))
    desk = _sign_in(app, assignee.email)
    inbox = desk.get("/staff").get_data(as_text=True)
    assert statement.number in inbox
    url = f"/staff/questions/{question.public_id}"
    page = desk.get(url).get_data(as_text=True)
    assert "Why was the X-ray billed twice?" in page and "handles charges questions" in page
    token = re.search(r'name="reply-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    desk.post(url, data={"reply-csrf_token": token, "reply-message": "Checking the scan log.", "reply-kind": "note"})
    desk.post(url, data={"reply-csrf_token": token, "reply-message": "It was billed once; see line 1.",
                         "reply-kind": "reply"})
    patient_view = client.get(thread_url).get_data(as_text=True)
    assert "It was billed once; see line 1." in patient_view
    assert "Checking the scan log." not in patient_view
    assert "Waiting for you" in patient_view
    # Someone else's question is 404 to another staff member; a supervisor sees and reassigns it.
    assert _sign_in(app, other.email).get(url).status_code == 404
    boss = _sign_in(app, staff["Patricia"].email)
    assert question.public_id in boss.get("/staff?scope=all").get_data(as_text=True)
    page = boss.get(url).get_data(as_text=True)
    token = re.search(r'name="reassign-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    refused = boss.post(f"{url}/reassign", data={"reassign-csrf_token": token, "reassign-staff": other.id,
                                                  "reassign-reason": ""})
    assert refused.status_code == 400
    boss.post(f"{url}/reassign", data={"reassign-csrf_token": token, "reassign-staff": other.id,
                                       "reassign-reason": "Back from leave, knows this account"})
    db.session.expire_all()
    assert Question.query.one().assigned_staff_id == other.id
    assert "reassigned by Patricia Okafor: Back from leave" in boss.get(url).get_data(as_text=True)
    assert AuditEvent.query.filter_by(action="question.viewed", actor_kind="supervisor").count() >= 1


def test_the_inbox_lists_the_soonest_due_first_and_marks_overdue_ones(app, make, staff):
    from datetime import datetime, timedelta, timezone

    from portal.questions import services

    long_ago = datetime.now(timezone.utc) - timedelta(days=6)
    old = services.ask(make.statement(lines=1), None, services.NewQuestion("refund", "Old one", "en", "email",
                                                                           "a@example.org"), user=None, now=long_ago)
    new = services.ask(make.statement(lines=1), None, services.NewQuestion("refund", "New one", "en", "email",
                                                                           "b@example.org"), user=None)
    db.session.commit()
    assert old.assigned_staff_id == new.assigned_staff_id == staff["James"].id
    rows = soup(_sign_in(app, "james@example.org").get("/staff")).select("table.inbox tbody tr")
    assert [row.find("a").get_text() for row in rows] == [old.statement.number, new.statement.number]
    assert "overdue" in rows[0]["class"] and "Overdue:" in rows[0].get_text()
    assert not rows[1].get("class")


def test_staff_set_the_status_and_the_patient_writing_again_reopens_it(app, client, household, login_as, submit,
                                                                       staff):
    user, statement = household
    login_as(user)
    thread_url = ask(submit, statement.number).headers["Location"]
    question = Question.query.one()
    desk = _sign_in(app, next(u for u in staff.values() if u.id == question.assigned_staff_id).email)
    url = f"/staff/questions/{question.public_id}"
    token = re.search(r'name="status-csrf_token" type="hidden" value="([^"]+)"', desk.get(url).get_data(
        as_text=True)).group(1)
    assert desk.post(f"{url}/status", data={"status-csrf_token": token, "status-status": "bogus"}).status_code == 400
    desk.post(f"{url}/status", data={"status-csrf_token": token, "status-status": "resolved"})
    assert "Resolved" in client.get(thread_url).get_data(as_text=True)
    submit(thread_url, {"message": "One more thing: the date is wrong."})
    db.session.expire_all()
    assert Question.query.one().status == "waiting_billing"
    assert question.public_id in desk.get("/staff").get_data(as_text=True)


def test_the_supervisor_dashboard_shows_the_office_and_edits_the_roster(app, client, make, household, login_as,
                                                                        submit, staff):
    from portal.billing.services import organisation_today

    user, statement = household
    # Leave starts on the hospital's calendar, which is not the machine's just after midnight UTC.
    today = organisation_today(statement.account.organisation)
    login_as(user)
    ask(submit, statement.number)
    ask(submit, statement.number, topic="insurance", message="And my insurance?")
    question_holder = Question.query.first().assigned_staff_id
    assert _sign_in(app, "maria@example.org").get("/staff/dashboard").status_code == 404
    boss = _sign_in(app, "boss@example.org")
    page = soup(boss.get("/staff/dashboard"))
    facts = {div.dt.get_text(): div.dd.get_text() for div in page.select("dl.facts > div")}
    assert facts["Open questions"] == "2" and facts["Overdue"] == "0" and facts["Not yet given to anyone"] == "0"
    team = {row.th.a.get_text(): row for row in page.select("table.inbox")[1].select("tbody tr")}
    assert set(team) == {"Maria Santos", "James O'Connor", "Patricia Okafor"}
    assert "Español" in team["Maria Santos"].get_text()
    # Maria goes on leave: her open questions go to colleagues at once, each with a new reason.
    url = f"/staff/roster/{staff['Maria'].id}"
    form = soup(boss.get(url))
    assert form.find("input", attrs={"name": "languages"})["value"] == "en, es"
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    data = {"csrf_token": token, "languages": "en, es", "topics": ["charges", "insurance"],
            "departments": "Radiology", "away_from": today.isoformat(), "away_until": "", "active": "y"}
    bad = boss.post(url, data={**data, "languages": "en, klingon!"})
    assert bad.status_code == 400 and "Not a language code" in bad.get_data(as_text=True)
    bad = boss.post(url, data={**data, "away_until": "2000-01-01"})
    assert bad.status_code == 400 and "cannot be before the first" in bad.get_data(as_text=True)
    response = boss.post(url, data=data)
    assert response.status_code == 302
    db.session.expire_all()
    profile = db.session.get(StaffProfile, staff["Maria"].id)
    assert profile.away_from == today and profile.departments == ["Radiology"]
    assert all(q.assigned_staff_id != staff["Maria"].id for q in Question.query.all())
    if question_holder == staff["Maria"].id:
        assert "went to colleagues" in boss.get("/staff/dashboard").get_data(as_text=True)


def test_a_message_reads_in_its_own_direction_on_a_page_in_another(client, household, login_as, submit, staff):
    # An English message on an Arabic page (or the other way round) keeps its full stop at its own end.
    user, statement = household
    login_as(user)
    response = ask(submit, statement.number, message="My son only had his wrist X-rayed.")
    user.locale = "ar"
    db.session.commit()
    page = soup(client.get(response.headers["Location"]))
    (body,) = page.select(".message-body")
    assert body["dir"] == "auto" and page.find("html")["dir"] == "rtl"
