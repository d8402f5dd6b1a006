"""A forgotten password: an emailed link that works once and expires."""
import logging
import re

from portal.extensions import db


def _request_link(submit, caplog, email="pat@example.org") -> str | None:
    with caplog.at_level(logging.INFO, logger="portal.mail"):
        caplog.clear()
        response = submit("/password/forgot", {"email": email})
    assert response.status_code == 302
    match = re.search(r"http://localhost(/password/reset/\S+)", caplog.text)
    return match.group(1) if match else None


def test_reset_link_changes_the_password_once(client, make, submit, caplog):
    make.user()
    link = _request_link(submit, caplog)
    assert link and "Reset your billing portal password" in caplog.text
    response = submit(link, {"password": "a brand new secret", "confirm": "a brand new secret"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert submit("/login", {"email": "pat@example.org", "password": "a brand new secret"}).status_code == 302
    client.post("/logout", data={"csrf_token": "x"})
    assert client.get(link).status_code == 400
    assert "This link no longer works" in client.get(link).get_data(as_text=True)


def test_unknown_email_gets_the_same_answer_and_no_mail(client, make, submit, caplog):
    make.user()
    assert _request_link(submit, caplog, "nobody@example.org") is None
    page = client.get("/login").get_data(as_text=True)
    assert "If nobody@example.org has a login, we have sent it a link" in page


def test_reset_links_expire(make_app, make, caplog):
    app = make_app()
    client = app.test_client()
    with app.app_context():
        make.user()
    page = client.get("/password/forgot").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    with caplog.at_level(logging.INFO, logger="portal.mail"):
        client.post("/password/forgot", data={"email": "pat@example.org", "csrf_token": token})
    link = re.search(r"http://localhost(/password/reset/\S+)", caplog.text).group(1)
    # Time passes: the link is now older than the age it may reach.
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    assert client.get(link).status_code == 400


def test_forged_links_are_refused(client):
    assert client.get("/password/reset/not-a-token").status_code == 400
    assert client.get("/password/reset/" + "x" * 5000).status_code == 400


def test_resetting_signs_out_other_browsers(app, make, login_as, submit, caplog):
    user = make.user()
    login_as(user)
    other_browser = app.test_client()
    page = other_browser.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    other_browser.post("/login", data={"email": user.email, "password": "correct horse battery", "csrf_token": token})
    assert other_browser.get("/statements").status_code == 200
    link = _request_link(submit, caplog)
    submit(link, {"password": "a brand new secret", "confirm": "a brand new secret"})
    assert other_browser.get("/statements").status_code == 302
    db.session.expire_all()


def test_mail_goes_over_smtp_when_configured(make_app, make, smtp_server):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_DEFAULT_SENDER="billing@test.example")
    client = app.test_client()
    with app.app_context():
        make.user()
    page = client.get("/password/forgot").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/password/forgot", data={"email": "pat@example.org", "csrf_token": token})
    assert len(smtp_server.messages) == 1
    sender, recipients, body = smtp_server.messages[0]
    assert sender == "billing@test.example" and recipients == ["pat@example.org"]
    assert "/password/reset/" in body
