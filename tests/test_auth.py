"""Signing in and out: the session is new at sign-in, cookies are locked down, failures say nothing more."""
from portal.audit.models import AuditEvent

from .conftest import STRIPE_KEYS
from portal.auth import services
from portal.extensions import db


def test_sign_in_shows_the_patients_bills(client, make, submit):
    statement = make.statement(lines=2)
    make.user(accounts=[statement.account])
    response = submit("/login", {"email": "PAT@example.org ", "password": "correct horse battery"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/statements"
    page = client.get("/statements").get_data(as_text=True)
    assert f"Statement {statement.number}" in page


def test_wrong_password_and_unknown_email_get_the_same_answer(client, make, submit):
    make.user()
    wrong = submit("/login", {"email": "pat@example.org", "password": "not the password"})
    unknown = submit("/login", {"email": "nobody@example.org", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    message = "The email or password is not right."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert client.get("/statements").status_code == 302  # still signed out


def test_session_is_renewed_at_sign_in(client, make, submit):
    user = make.user()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    submit("/login", {"email": user.email, "password": "correct horse battery"})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == user.session_token


def test_session_cookie_is_http_only_and_same_site(client, make, submit):
    user = make.user()
    response = submit("/login", {"email": user.email, "password": "correct horse battery"})
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the local demo runs over plain HTTP
    assert "Expires=" in cookie  # an idle timeout, renewed by each request


def test_idle_sessions_end(make_app, make):
    app = make_app(PERMANENT_SESSION_LIFETIME=-1)  # already past the idle limit on the next request
    client = app.test_client()
    with app.app_context():
        make.user()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "pat@example.org", "password": "correct horse battery", "csrf_token": token})
    assert client.get("/statements").status_code == 302


def test_production_cookies_are_secure(make_app, make, redis_url):
    app = make_app(ENV="production", MAIL_SERVER="smtp.example.org", RATELIMIT_STORAGE_URI=redis_url,
                   PUBLIC_URL="https://portal.example", **STRIPE_KEYS)
    make.user()
    client = app.test_client()
    page = client.get("/login", base_url="https://portal.example").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    # Over HTTPS the CSRF check also wants a same-site Referer, which browsers send.
    response = client.post("/login", base_url="https://portal.example",
                           headers={"Referer": "https://portal.example/login"}, data={"email": "pat@example.org", "password": "correct horse battery", "csrf_token": token})
    assert response.status_code == 302
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_sign_out_needs_a_post_with_csrf(client, make, login_as, submit):
    login_as(make.user())
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/statements").status_code == 200
    response = submit("/logout", page="/statements")
    assert response.status_code == 302
    assert client.get("/statements").status_code == 302


def test_next_only_goes_to_this_site(client, make, submit):
    make.user()
    data = {"email": "pat@example.org", "password": "correct horse battery"}
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        client.post("/logout", data={"csrf_token": "x"})
        with client.session_transaction() as session:
            session.clear()
        response = submit(f"/login?next={target}", data)
        assert response.headers["Location"] == "/statements", target
    with client.session_transaction() as session:
        session.clear()
    response = submit("/login?next=/statements/123456", data)
    assert response.headers["Location"] == "/statements/123456"


def test_staff_go_to_the_statement_search(client, make, login_as):
    response = login_as(make.user("clerk@example.org", role="staff"))
    assert response.headers["Location"] == "/staff/statements"


def test_sign_in_is_audited(client, make, login_as, submit):
    user = make.user()
    submit("/login", {"email": user.email, "password": "nope nope nope"})
    login_as(user)
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["login.failed", "login.succeeded"]


def test_password_hashes_are_argon2id(make):
    user = make.user()
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse battery" not in user.password_hash


def test_old_hashes_are_upgraded_at_sign_in(make_app, make):
    app = make_app(PASSWORD_HASH_PROFILE="RFC_9106_LOW_MEMORY")
    with app.app_context():
        user = make.user()  # hashed with the test profile, weaker than this app's
        with app.test_request_context():
            assert services.authenticate("pat@example.org", "correct horse battery") is not None
        assert "m=65536" in user.password_hash
