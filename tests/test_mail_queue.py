"""Emails go out in the background through a real SMTP server: the reply notice, retries with back-off,
mail nobody may lose, and the worker command itself."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.background import task_queue
from portal.extensions import db
from portal.outbox import services as outbox
from portal.outbox.models import FAILED, QUEUED, SENDING, SENT, OutgoingMail
from portal.questions.models import Question

from .conftest import _free_port, csrf_token, start_smtp_server
from .pages import soup
from .test_questions_web import _sign_in, ask, staff  # noqa: F401,F811 (staff is a fixture)

SERVER = {"MAIL_SERVER": "127.0.0.1", "MAIL_DEFAULT_SENDER": "billing@test.example"}


def _answer(app, question: Question, assignee_email: str, text: str, kind: str = "reply"):
    desk = _sign_in(app, assignee_email)
    url = f"/staff/questions/{question.public_id}"
    token = re.search(r'name="reply-csrf_token" type="hidden" value="([^"]+)"', desk.get(url).get_data(as_text=True))
    return desk.post(url, data={"reply-csrf_token": token.group(1), "reply-message": text, "reply-kind": kind})


def _assignee_email(staff, question: Question) -> str:
    return next(u.email for u in staff.values() if u.id == question.assigned_staff_id)


def test_a_reply_emails_the_patient_a_link_and_no_details(app, client, household, login_as, submit, staff,
                                                          smtp_server):
    app.config.update(SERVER, MAIL_PORT=smtp_server.port)
    user, statement = household
    login_as(user)
    ask(submit, statement.number, message="Why was the X-ray billed twice?")
    question = Question.query.one()
    reply = "It was billed once; the second line is the reading by the radiologist."
    _answer(app, question, _assignee_email(staff, question), "Checking the scan log.", kind="note")
    assert smtp_server.messages == [], "an internal note tells the patient nothing"
    assert _answer(app, question, _assignee_email(staff, question), reply).status_code == 302
    [email] = smtp_server.emails()
    assert email["To"] == user.email and email["From"] == "billing@test.example"
    assert email["Subject"] == "You have a reply from Test General Hospital"
    text = email.get_content()
    assert f"http://localhost/questions/{question.public_id}" in text
    # Nothing about the bill or the care: no reply text, statement, amount, service, topic or name.
    for detail in (reply, "radiologist", statement.number, "90.00", "$", "X-ray", "TEST SERVICE", "charge",
                   "Emergency", "Alex", "Maria", "James"):
        assert detail not in text and detail not in email["Subject"], detail
    mail = OutgoingMail.query.one()
    assert (mail.kind, mail.status, mail.attempts, mail.body) == ("question_reply", SENT, 1, None)
    # The link brings a signed-out patient to sign in and then straight to the reply.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/statements")})
    response = client.get(f"/questions/{question.public_id}")
    assert response.status_code == 302 and "/login?next=/questions/" in response.headers["Location"]
    signed_in = submit(response.headers["Location"], {"email": user.email, "password": "correct horse battery"})
    assert signed_in.headers["Location"] == f"/questions/{question.public_id}"
    assert reply in client.get(signed_in.headers["Location"]).get_data(as_text=True)


def test_a_guest_is_told_at_the_address_they_gave_and_opens_the_reply_with_their_bill(
        app, client, make, submit, staff, smtp_server):
    app.config.update(SERVER, MAIL_PORT=smtp_server.port)
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    ask(submit, statement.number, email="guest@example.org", language="es")
    question = Question.query.one()
    _answer(app, question, _assignee_email(staff, question), "We have refunded the second charge.")
    [email] = smtp_server.emails()
    assert email["To"] == "guest@example.org"
    text = email.get_content()
    # In the language the guest asked to be answered in (Spanish here).
    assert email["Subject"] == "Tiene una respuesta de Test General Hospital"
    assert "fecha de nacimiento" in text and statement.number not in text
    # A new browser: the link asks to sign in, which offers the bill's own way in and comes back.
    browser = app.test_client()
    login_page = browser.get(f"/questions/{question.public_id}", follow_redirects=True)
    quick = soup(login_page).find("a", string="Pay a bill without a login")["href"]
    assert "next=" in quick
    opened = browser.post(quick, data={"statement_number": statement.number, "date_of_birth": "05/17/1980",
                                       "csrf_token": csrf_token(browser, quick)})
    assert opened.headers["Location"] == f"/questions/{question.public_id}"
    assert "We have refunded the second charge." in browser.get(opened.headers["Location"]).get_data(as_text=True)


def test_the_reply_link_is_the_portals_public_address_and_phone_askers_get_no_email(
        app, client, household, login_as, submit, staff, smtp_server):
    app.config.update(SERVER, MAIL_PORT=smtp_server.port, PUBLIC_URL="https://billing.example.org/")
    user, statement = household
    login_as(user)
    ask(submit, statement.number)
    ask(submit, statement.number, contact_method="phone", phone="+1 555 0101", message="Call me please.")
    by_email, by_phone = Question.query.order_by(Question.id).all()
    flashes = []
    for question in (by_email, by_phone):
        desk = _sign_in(app, _assignee_email(staff, question))
        url = f"/staff/questions/{question.public_id}"
        token = re.search(r'name="reply-csrf_token" type="hidden" value="([^"]+)"', desk.get(url).get_data(as_text=True))
        desk.post(url, data={"reply-csrf_token": token.group(1), "reply-message": "We have looked into it.",
                             "reply-kind": "reply"})
        flashes.append(desk.get(url).get_data(as_text=True))
    # The clerk is told what reaches the patient.
    assert "The patient gets an email saying that an answer is waiting." in flashes[0]
    assert "They asked to be called at +1 555 0101, so no email tells them." in flashes[1]
    [email] = smtp_server.emails()
    assert f"https://billing.example.org/questions/{by_email.public_id}" in email.get_content()
    assert "localhost" not in email.get_content()


def test_an_unknown_question_address_gets_the_same_answer_when_signed_out(client):
    response = client.get("/questions/not-a-real-question")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    assert client.post("/questions/not-a-real-question").status_code in (400, 404)


# --- The queue: a page never waits for the mail server, and a failed send is tried again ------------------

@pytest.fixture
def queued_app(app, make_app, smtp_server):
    """An app whose tasks wait in a real queue (a SQLite file) until a worker runs them, as in production;
    the test plays the worker. Its context is pushed over the default app's (which the factories use)."""
    queued = make_app(HUEY_IMMEDIATE=False, MAIL_PORT=smtp_server.port, **SERVER)
    with queued.app_context():
        yield queued, task_queue(queued).huey


def _utc(moment: datetime) -> datetime:
    """huey's clock: naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _run_due(queue, until: datetime | None = None) -> int:
    """Be the worker: run every task waiting now, and every scheduled retry due by ``until``."""
    ran = 0
    if until is not None:
        for task in queue.read_schedule(_utc(until)):
            queue.enqueue(task)
    while (task := queue.dequeue()) is not None:
        queue.execute(task, timestamp=_utc(until) if until is not None else None)
        ran += 1
    return ran


def _request_reset(app, email="pat@example.org"):
    browser = app.test_client()
    return browser.post("/password/forgot", data={"email": email,
                                                  "csrf_token": csrf_token(browser, "/password/forgot")})


def test_a_page_does_not_wait_for_the_mail_server_and_the_worker_sends_it(queued_app, make, smtp_server):
    app, queue = queued_app
    make.user()
    assert _request_reset(app).status_code == 302
    assert smtp_server.messages == [] and queue.pending_count() == 1
    assert OutgoingMail.query.one().status == QUEUED
    assert _run_due(queue) == 1
    [email] = smtp_server.emails()
    assert email["Subject"] == "Reset your billing portal password" and "/password/reset/" in email.get_content()
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert mail.status == SENT and mail.body is None, "a sent reset link is not kept in the database"


def test_with_the_mail_server_down_questions_and_replies_are_kept_and_the_notice_goes_when_it_is_back(
        app, client, make_app, household, login_as, submit, staff):
    down = _free_port()  # nothing listens here until the server comes back
    queued = make_app(HUEY_IMMEDIATE=False, MAIL_PORT=down, **SERVER)
    user, statement = household
    login_as(user)
    ask(submit, statement.number, message="Is the second X-ray a mistake?")
    question = Question.query.one()
    with queued.app_context():
        queue = task_queue(queued).huey
        assert _answer(queued, question, _assignee_email(staff, question), "No: it is the reading.").status_code == 302
        started = datetime.now(timezone.utc)
        _run_due(queue)
        db.session.expire_all()
        mail = OutgoingMail.query.one()
        assert (mail.status, mail.attempts) == (QUEUED, 1) and "refused" in mail.last_error.lower()
    # The patient reads the reply at once; only the notice waits.
    assert "No: it is the reading." in client.get(f"/questions/{question.public_id}").get_data(as_text=True)
    server, controller = start_smtp_server(down)
    try:
        with queued.app_context():
            _run_due(queue, until=started + timedelta(minutes=2))
            db.session.expire_all()
            assert OutgoingMail.query.one().status == SENT
        [email] = server.emails()
        assert email["To"] == user.email and email["Subject"] == "You have a reply from Test General Hospital"
    finally:
        controller.stop()


def test_a_failed_send_is_tried_again_with_a_growing_wait(queued_app, make, smtp_server, caplog):
    app, queue = queued_app
    make.user()
    smtp_server.refuse_next = 2
    _request_reset(app)
    started = datetime.now(timezone.utc)
    with caplog.at_level(logging.WARNING, logger="portal.mail"):
        _run_due(queue)
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert (mail.status, mail.attempts, mail.last_error) == (QUEUED, 1, "451 4.3.0 Try again later")
    assert "trying again in 0:01:00" in caplog.text
    [retry] = queue.scheduled()
    assert timedelta(seconds=55) < retry.eta - _utc(started) < timedelta(seconds=70)
    assert _run_due(queue, until=started + timedelta(seconds=30)) == 0, "not before its time"
    _run_due(queue, until=started + timedelta(minutes=2))
    [retry] = queue.scheduled()
    assert timedelta(seconds=115) < retry.eta - _utc(started) < timedelta(seconds=190)
    _run_due(queue, until=started + timedelta(minutes=10))
    assert len(smtp_server.messages) == 1 and queue.scheduled() == []
    db.session.expire_all()
    assert (OutgoingMail.query.one().status, OutgoingMail.query.one().attempts) == (SENT, 3)


def test_after_the_last_try_a_mail_is_listed_for_supervisors_and_can_be_sent_again(queued_app, make, smtp_server,
                                                                                   caplog):
    app, queue = queued_app
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    boss = make.user("boss@example.org", role="supervisor")
    smtp_server.refuse_next = 5
    outbox.queue_mail("pat@example.org", "Your payment receipt", "Thank you.", kind="receipt")
    db.session.commit()
    with caplog.at_level(logging.ERROR, logger="portal.mail"):
        _run_due(queue)
        _run_due(queue, until=datetime.now(timezone.utc) + timedelta(hours=1))
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert (mail.status, mail.attempts) == (FAILED, 2) and mail.body, "kept, so that it can be sent again"
    assert "not delivered after 2 attempt(s)" in caplog.text and queue.scheduled() == []
    desk = _sign_in(app, boss.email)
    page = soup(desk.get("/staff/dashboard"))
    section = page.find(id="undelivered").find_next("table")
    assert "Payment receipt" in section.get_text() and "pat@example.org" in section.get_text()
    assert "451 4.3.0 Try again later" in section.get_text()
    form = section.find("form")
    # Only supervisors may; others get a 404.
    staff_member = make.user("staff@example.org", role="staff")
    other = _sign_in(app, staff_member.email)
    assert other.post(form["action"], data={"csrf_token": csrf_token(other, "/staff")}).status_code == 404
    assert desk.post(form["action"], data={}).status_code == 400, "CSRF"
    smtp_server.refuse_next = 0
    response = desk.post(form["action"], data={"csrf_token": form.find("input", attrs={"name": "csrf_token"})["value"]})
    assert response.status_code == 302
    _run_due(queue)
    assert len(smtp_server.messages) == 1
    db.session.expire_all()
    assert OutgoingMail.query.one().status == SENT
    assert "Every email has gone out" in desk.get("/staff/dashboard").get_data(as_text=True)


def test_any_other_failure_is_retried_and_listed_too_never_stuck(queued_app, make, smtp_server, monkeypatch):
    """A bad header or setting fails inside the mail library, not at the server: the same retries apply."""
    app, queue = queued_app
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    make.user()

    def broken(*args):
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setattr(outbox, "send_mail", broken)
    _request_reset(app)
    _run_due(queue)
    db.session.expire_all()
    assert OutgoingMail.query.one().status == QUEUED
    _run_due(queue, until=datetime.now(timezone.utc) + timedelta(hours=1))
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert (mail.status, mail.attempts) == (FAILED, 2) and "ValueError: Header values" in mail.last_error


def test_a_password_reset_whose_link_has_expired_is_not_sent_nor_offered_again(queued_app, make, smtp_server):
    app, queue = queued_app
    make.user()
    boss = make.user("boss@example.org", role="supervisor")
    _request_reset(app)
    mail = OutgoingMail.query.one()
    mail.created_at = datetime.now(timezone.utc) - timedelta(hours=2)
    db.session.commit()
    _run_due(queue)
    assert smtp_server.messages == []
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert mail.status == FAILED and "expired" in mail.last_error and mail.body is None
    desk = _sign_in(app, boss.email)
    page = soup(desk.get("/staff/dashboard"))
    assert "The link has expired: the patient can ask for a new one." in page.get_text()
    assert page.find("form", action=f"/staff/mail/{mail.id}/send-again") is None
    token = csrf_token(desk, "/staff/dashboard")
    assert desk.post(f"/staff/mail/{mail.id}/send-again", data={"csrf_token": token}).status_code == 404
    for missing in (mail.id + 1, 10**30):
        assert desk.post(f"/staff/mail/{missing}/send-again", data={"csrf_token": token}).status_code == 404
    assert desk.get(f"/staff/roster/{10**30}").status_code == 404


def test_an_address_the_server_refuses_is_not_tried_again(queued_app, make, smtp_server):
    app, queue = queued_app
    make.user("gone@example.org")
    smtp_server.unknown_recipients.add("gone@example.org")
    _request_reset(app, "gone@example.org")
    _run_due(queue)
    db.session.expire_all()
    mail = OutgoingMail.query.one()
    assert mail.status == FAILED and mail.attempts == 1 and "550" in mail.last_error
    assert queue.scheduled() == []


def test_mail_stored_while_the_queue_is_down_is_sent_by_the_sweep(queued_app, make, smtp_server, monkeypatch):
    app, queue = queued_app
    make.user()

    def queue_down(*args):
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr(outbox, "enqueue", queue_down)
    assert _request_reset(app).status_code == 302, "the page still works"
    monkeypatch.undo()
    assert queue.pending_count() == 0 and OutgoingMail.query.one().status == QUEUED
    now = datetime.now(timezone.utc)
    assert outbox.sweep(now) == 0, "not yet stale"
    assert outbox.sweep(now + timedelta(minutes=11)) == 1
    _run_due(queue)
    assert len(smtp_server.messages) == 1
    # A mail a worker took and never finished (the worker died) goes back in line too.
    mail = OutgoingMail(kind="receipt", recipient="pat@example.org", subject="Receipt", body="Thank you.",
                        status=SENDING, attempts=1, claimed_at=now - timedelta(minutes=30))
    db.session.add(mail)
    db.session.commit()
    assert outbox.sweep(now) == 1
    _run_due(queue)
    assert len(smtp_server.messages) == 2
    db.session.expire_all()
    assert {m.status for m in OutgoingMail.query} == {SENT}


def test_the_sweep_leaves_waiting_retries_alone_and_gives_up_on_a_last_attempt_cut_short(queued_app, smtp_server):
    app, queue = queued_app
    now = datetime.now(timezone.utc)
    waiting = OutgoingMail(kind="receipt", recipient="a@example.org", subject="Receipt", body="Thank you.",
                           status=QUEUED, attempts=3, next_attempt_at=now + timedelta(minutes=30))
    being_sent = OutgoingMail(kind="receipt", recipient="b@example.org", subject="Receipt", body="Thank you.",
                              status=SENDING, attempts=1, claimed_at=now - timedelta(minutes=1))
    last_try = OutgoingMail(kind="receipt", recipient="c@example.org", subject="Receipt", body="Thank you.",
                            status=SENDING, attempts=10, claimed_at=now - timedelta(hours=1))
    db.session.add_all([waiting, being_sent, last_try])
    db.session.commit()
    assert outbox.sweep(now) == 0
    db.session.expire_all()
    assert (waiting.status, waiting.next_attempt_at.replace(tzinfo=timezone.utc)) == \
        (QUEUED, (now + timedelta(minutes=30)))
    assert being_sent.status == SENDING, "a mail a worker has just taken is left to it"
    assert last_try.status == FAILED and last_try.last_error == "the worker stopped while sending"
    assert queue.pending_count() == 0


def test_a_mail_is_sent_once_even_when_queued_twice(queued_app, make, smtp_server):
    app, queue = queued_app
    make.user()
    _request_reset(app)
    [mail_id] = db.session.scalars(select(OutgoingMail.id)).all()
    task_queue(app).tasks[outbox.DELIVER_TASK](mail_id)
    assert _run_due(queue) == 2
    assert len(smtp_server.messages) == 1


def test_a_rolled_back_mail_is_never_sent(queued_app, make, smtp_server):
    app, queue = queued_app
    outbox.queue_mail("pat@example.org", "Hello", "Body", kind="receipt")
    db.session.rollback()
    db.session.commit()
    assert queue.pending_count() == 0 and OutgoingMail.query.count() == 0


def test_the_mail_commands_show_and_resend_undelivered_mail(queued_app, smtp_server):
    app, queue = queued_app
    db.session.add(OutgoingMail(kind="receipt", recipient="pat@example.org", subject="Receipt", body="Thank you.",
                                status=FAILED, attempts=10, last_error="421 busy"))
    db.session.commit()
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["mail", "status"])
    assert "failed: 1" in shown.output and "undelivered" in shown.output and "421 busy" in shown.output
    assert "Queued 1 undelivered" in runner.invoke(args=["mail", "retry"]).output
    _run_due(queue)
    assert len(smtp_server.messages) == 1


def test_the_worker_runs_the_sweep_the_leave_job_and_the_payment_plans_on_schedule(queued_app):
    app, queue = queued_app
    from huey.api import PeriodicTask

    periodic = {name: wrapper.s() for name, wrapper in task_queue(app).tasks.items()
                if isinstance(wrapper.s(), PeriodicTask)}
    assert set(periodic) == {"mail.sweep", "questions.reroute", "plans.run"}
    at = datetime(2026, 12, 3, 6, 0)
    assert all(job.validate_datetime(at) for job in periodic.values())
    assert not periodic["questions.reroute"].validate_datetime(at.replace(minute=7))
    assert not periodic["plans.run"].validate_datetime(at.replace(minute=7))
    assert periodic["plans.run"].validate_datetime(at.replace(minute=45))


def test_only_one_worker_runs_a_scheduled_job_at_a_time(queued_app, caplog):
    app, queue = queued_app
    job = task_queue(app).tasks["mail.sweep"].s()
    with caplog.at_level(logging.WARNING, logger="huey"):
        with queue.lock_task("mail.sweep"):
            queue.execute(job)
    assert "not run, unable to acquire lock mail.sweep" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="huey"):
        queue.execute(job)
    assert "unable to acquire lock" not in caplog.text


def test_the_queue_is_a_sqlite_file_in_the_instance_folder_by_default_and_redis_when_configured(tmp_path):
    from types import SimpleNamespace

    from huey import MemoryHuey, RedisHuey, SqliteHuey

    from portal.background import make_huey

    default = make_huey(SimpleNamespace(config={}, instance_path=str(tmp_path / "instance")))
    assert isinstance(default, SqliteHuey)
    assert default.storage.filename == str(tmp_path / "instance" / "huey.sqlite3")
    redis = make_huey(SimpleNamespace(config={"HUEY_REDIS_URL": "redis://127.0.0.1:6379/15"}, instance_path=""))
    assert isinstance(redis, RedisHuey)
    immediate = make_huey(SimpleNamespace(config={"HUEY_IMMEDIATE": True}, instance_path=""))
    assert isinstance(immediate, MemoryHuey) and immediate.immediate


# --- The worker command, a real process ------------------------------------------------------------------------

def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_the_worker_command_sends_what_the_portal_queued(make_app, migrated, smtp_server, tmp_path, store):
    if store == "redis" and not _redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379 (the production queue store)")
    # A queue name of this run's own, so that runs sharing the Redis do not take each other's work.
    queue_settings = ({"HUEY_SQLITE_PATH": str(tmp_path / "queue.sqlite3")} if store == "sqlite"
                      else {"HUEY_REDIS_URL": "redis://127.0.0.1:6379/15", "HUEY_NAME": f"portal-test-{uuid.uuid4()}"})
    app = make_app(HUEY_IMMEDIATE=False, MAIL_PORT=smtp_server.port, **SERVER, **queue_settings)
    with app.app_context():
        task_queue(app).huey.flush()
        from .conftest import Factory

        Factory().user()
    _request_reset(app)
    env = dict(os.environ, PORTAL_SQLALCHEMY_DATABASE_URI=migrated, PORTAL_SECRET_KEY="test-secret",
               PORTAL_MAIL_SERVER="127.0.0.1", PORTAL_MAIL_PORT=str(smtp_server.port),
               **{f"PORTAL_{key}": value for key, value in queue_settings.items()})
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker", "--workers", "1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not smtp_server.messages and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0]
    assert len(smtp_server.messages) == 1, output
    assert "Reset your billing portal password" in smtp_server.messages[0][2]
    with app.app_context():
        assert OutgoingMail.query.one().status == SENT
        task_queue(app).huey.flush()
