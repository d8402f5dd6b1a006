"""Fixtures: a real database (SQLite, or PostgreSQL from PORTAL_TEST_DATABASE_URL) migrated with Alembic,
the Flask test client with CSRF switched on, and factories that read like the billing vocabulary."""
from __future__ import annotations

import contextvars
import itertools
import os
import re
import time
from datetime import date, timedelta

import flask_migrate
import pytest
from sqlalchemy import text

from flask.testing import FlaskClient

from portal import create_app
from portal.auth.models import User, UserAccount
from portal.auth.passwords import hash_password
from portal.billing.models import Account, LineItem, Organisation, Patient, Statement, Visit
from portal.extensions import db, limiter
from portal.payments.models import Payment

TEST_DATABASE_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
SECRET = "test-secret-key-long-enough-for-production-checks"
STRIPE_KEYS = {"STRIPE_SECRET_KEY": "sk_test_portal_tests", "STRIPE_PUBLISHABLE_KEY": "pk_test_portal_tests",
               "STRIPE_WEBHOOK_SECRET": "whsec_portal_tests"}
# Set by the localstripe fixture for the whole run; an address nothing listens on until then.
_STRIPE_BASE = {"url": "http://127.0.0.1:9"}
# The stand-in waits a second before sending an event's webhook; a little more for its event loop.
STAND_IN_WEBHOOK_DELAY = 1.3


def app_config(database_url: str, **overrides) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # The cheapest argon2id parameters: the same algorithm, fast enough for hundreds of sign-ins.
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        "RATELIMIT_STORAGE_URI": "memory://",
        **STRIPE_KEYS,
        "STRIPE_API_BASE": _STRIPE_BASE["url"],
        "STRIPE_JS_URL": _STRIPE_BASE["url"] + "/js.stripe.com/v3/",
        "STRIPE_TIMEOUT": 5,
        # Background tasks (emails above all) run at once, where they are queued; tests of the queue
        # itself and of the worker switch this off.
        "HUEY_IMMEDIATE": True,
        **overrides,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 15) -> None:
    import socket
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port}")


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """Pages are read in every language: compile each catalog whose .mo is missing or older than its .po, as
    `make install` does, so that a plain `pytest` after editing a catalog sees the edit."""
    import glob

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "translations")
    for po_path in glob.glob(os.path.join(root, "*", "LC_MESSAGES", "messages.po")):
        mo_path = po_path[:-3] + ".mo"
        if not os.path.exists(mo_path) or os.path.getmtime(mo_path) < os.path.getmtime(po_path):
            with open(po_path, "rb") as source:
                catalog = read_po(source)
            with open(mo_path, "wb") as target:
                write_mo(target, catalog)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """The local Stripe stand-in, a real HTTP server, started once for the run from scratch."""
    import subprocess
    import sys

    port = _free_port()
    log = open(tmp_path_factory.mktemp("localstripe") / "localstripe.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port)
        _STRIPE_BASE["url"] = f"http://127.0.0.1:{port}"
        yield _STRIPE_BASE["url"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


class IsolatedClient(FlaskClient):
    """Run each request in a fresh context, as a real server does.

    Without this, a request would reuse the test's own app context and so its ``g`` and database
    session, hiding bugs that only show when requests are independent.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "portal-test.sqlite3")


@pytest.fixture(scope="session")
def migrated(database_url):
    """Build the schema once per run with the real migrations, from an empty database."""
    app = create_app(app_config(database_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        flask_migrate.upgrade()
        db.engine.dispose()
    return database_url


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database for the production path (rate limits, the queue); skipped where none runs."""
    import redis

    url = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    server = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        server.flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url} (set PORTAL_TEST_REDIS_URL; CI starts one)")
    finally:
        server.close()
    return url


@pytest.fixture
def make_app(migrated, localstripe, tmp_path):
    """Build an app on the test database with extra settings; tables are emptied afterwards."""
    apps = []

    def build(**overrides):
        # Each test prints statements into its own cache, never the checkout's instance folder.
        overrides.setdefault("STATEMENT_PDF_CACHE_DIR", str(tmp_path / "statement-pdfs"))
        # ... and queues its background work (when not run at once) in its own file.
        overrides.setdefault("HUEY_SQLITE_PATH", str(tmp_path / "huey.sqlite3"))
        # ... and keeps the proof of income sent with assistance applications in its own folder.
        overrides.setdefault("FINANCIAL_ASSISTANCE_UPLOAD_DIR", str(tmp_path / "assistance-documents"))
        app = create_app(app_config(migrated, **overrides))
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            if app.config["SQLALCHEMY_DATABASE_URI"] == migrated:
                _empty_tables()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    limiter.reset()
    with app.app_context():
        yield app
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


@pytest.fixture
def submit(client):
    """POST a form the way a browser does: load the page, then send the fields with its CSRF token."""

    def post(url: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        fields = dict(data or {})
        fields["csrf_token"] = csrf_token(client, page or url)
        return client.post(url, data=fields, **kwargs)

    return post


@pytest.fixture
def login_as(client, submit):
    def login(user: User, password: str = "correct horse battery"):
        response = submit("/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return login


_numbers = itertools.count(500000001)


class Factory:
    """Builders for the billing domain; each adds, flushes and commits so the app sees the rows."""

    def __init__(self) -> None:
        self._org: Organisation | None = None

    def organisation(self, **fields) -> Organisation:
        if self._org is None:
            values = dict(slug="test-hospital", name="Test General Hospital", address="1 Test Way\nTestville",
                          phone="+1 555-0100", currency="USD", time_zone="America/Chicago", default_locale="en")
            values.update(fields)
            self._org = Organisation(**values)
            db.session.add(self._org)
            db.session.commit()
        return self._org

    def account(self, guarantor_name: str = "Alex Guarantor", **fields) -> Account:
        account = Account(organisation=self.organisation(), number=fields.pop("number", str(next(_numbers))),
                          guarantor_name=guarantor_name,
                          mailing_address=fields.pop("mailing_address", "2 Home Street\nTestville"),
                          preferred_locale=fields.pop("preferred_locale", "en"), **fields)
        db.session.add(account)
        db.session.commit()
        return account

    def patient(self, account: Account, given: str = "Alex", family: str = "Guarantor",
                born: date = date(1980, 5, 17)) -> Patient:
        patient = Patient(account=account, mrn=f"MRN{next(_numbers)}", given_name=given, family_name=family,
                          birth_date=born)
        db.session.add(patient)
        db.session.commit()
        return patient

    def statement(self, account: Account | None = None, *, patient: Patient | None = None, lines: int = 3,
                  insured: bool = True, number: str | None = None, statement_date: date | None = None,
                  due_in_days: int = 30, visits: int = 1, codes: list[tuple[str, str]] | None = None) -> Statement:
        """A statement with ``lines`` lines over ``visits`` visits; each insured line of $100.00 splits as
        allowed 60.00 = insurance 40.00 + deductible 10.00 + copay 5.00 + coinsurance 5.00, and 30.00
        adjustment, 10.00 not covered; each self-pay line of $100.00 has a 20.00 discount. ``codes`` gives
        each line's (code system, code); by default they are CPT 99200 to 99209."""
        account = account or self.account()
        patient = patient or (account.patients[0] if account.patients else self.patient(account))
        statement_date = statement_date or date.today() - timedelta(days=2)
        statement = Statement(account=account, number=number or str(next(_numbers)), statement_date=statement_date,
                              due_date=statement_date + timedelta(days=due_in_days), currency="USD")
        db.session.add(statement)
        visit_list = []
        for v in range(visits):
            visit = Visit(statement=statement, patient=patient, visit_date=statement_date - timedelta(days=10 + v),
                          facility="Test General Hospital", department="Emergency", provider="Dr. Test",
                          payer="Test Insurance PPO" if insured else None)
            db.session.add(visit)
            visit_list.append(visit)
        for i in range(lines):
            visit = visit_list[i % visits]
            amounts = (dict(allowed=6000, insurance_paid=4000, adjustment=3000, deductible=1000, copay=500,
                            coinsurance=500, not_covered=1000) if insured else dict(allowed=None, adjustment=2000))
            code_system, code = codes[i] if codes else ("cpt", f"9920{i % 10}")
            visit.lines.append(LineItem(position=i, service_date=visit.visit_date, code_system=code_system,
                                        code=code, description=f"TEST SERVICE {i + 1}", quantity=1,
                                        charge=10000, **amounts))
        db.session.commit()
        return statement

    def payment(self, statement: Statement, amount: int, status: str = "succeeded", refunded: int = 0,
                **fields) -> Payment:
        payment = Payment(statement=statement, amount=amount, currency=statement.currency, status=status,
                          amount_refunded=refunded, method=fields.pop("method", "card"), **fields)
        db.session.add(payment)
        db.session.commit()
        return payment

    def user(self, email: str = "pat@example.org", password: str = "correct horse battery", role: str = "patient",
             accounts: list[Account] = ()) -> User:
        user = User(email=email, password_hash=hash_password(password), role=role, locale="en")
        db.session.add(user)
        db.session.flush()
        for account in accounts:
            db.session.add(UserAccount(user_id=user.id, account_id=account.id))
        db.session.commit()
        return user


@pytest.fixture
def make(app) -> Factory:
    return Factory()


@pytest.fixture
def household(make):
    """A patient with a login and a statement of three insured lines: $90.00 due."""
    account = make.account()
    statement = make.statement(account, lines=3)
    user = make.user(accounts=[account])
    return user, statement


@pytest.fixture
def glossary(app):
    """The shipped glossary and service dictionary, loaded as ``flask glossary load`` does."""
    from portal.glossary.services import load_builtin_content

    report = load_builtin_content()
    db.session.commit()
    return report


class _SMTPHandler:
    """aiosmtpd's handler: keep each message, or turn it away as a server in trouble would."""

    def __init__(self, state) -> None:  # noqa: ANN001
        self.state = state

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        if address in self.state.unknown_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        if self.state.refuse_next > 0:
            self.state.refuse_next -= 1
            return "451 4.3.0 Try again later"
        content = envelope.content.decode("utf-8", errors="replace")
        self.state.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on localhost that keeps what it receives.

    ``messages`` holds (sender, recipients, raw message) per message; ``emails`` the parsed messages. Set
    ``refuse_next`` to turn the next messages away with a temporary error, and add to ``unknown_recipients``
    for addresses the server refuses for good.
    """
    state, controller = start_smtp_server(_free_port())
    yield state
    controller.stop()


def start_smtp_server(port: int):
    """Start the test SMTP server on ``port``; return its state (see ``smtp_server``) and its controller."""
    from email import message_from_string, policy
    from types import SimpleNamespace

    from aiosmtpd.controller import Controller

    state = SimpleNamespace(port=port, messages=[], refuse_next=0, unknown_recipients=set())
    state.emails = lambda: [message_from_string(raw, policy=policy.default) for _s, _r, raw in state.messages]
    controller = Controller(_SMTPHandler(state), hostname="127.0.0.1", port=port)
    controller.start()
    return state, controller


def sign_webhook(payload: bytes, secret: str = STRIPE_KEYS["STRIPE_WEBHOOK_SECRET"],
                 timestamp: int | None = None) -> str:
    """A Stripe-Signature header made the way Stripe makes it: HMAC-SHA256 of "<t>.<body>"."""
    import hashlib
    import hmac
    import time

    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@pytest.fixture
def deliver(client):
    """POST an event to the webhook, signed as Stripe signs it."""
    import json

    def post(event: dict, *, signature: str | None = None):
        body = json.dumps(event).encode()
        return client.post("/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": signature or sign_webhook(body)})

    return post


@pytest.fixture
def live_server(make_app, localstripe):
    """The portal served over HTTP on a free port, with the stand-in's webhooks pointed at it."""
    import threading
    import urllib.request
    from types import SimpleNamespace

    from werkzeug.serving import make_server

    def point_webhooks_at(url: str, secret: str) -> None:
        data = f"url={url}&secret={secret}".encode()
        urllib.request.urlopen(urllib.request.Request(f"{localstripe}/_config/webhooks/portal", data=data), timeout=5)

    # The stand-in sends each event a second after making it, to wherever its webhook points by then: an
    # earlier test's last payment would reach this server as an event it never made. Let those go nowhere.
    point_webhooks_at("http://127.0.0.1:9/", "discard")
    time.sleep(STAND_IN_WEBHOOK_DELAY)
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    point_webhooks_at(f"{url}/stripe/webhook", STRIPE_KEYS["STRIPE_WEBHOOK_SECRET"])
    try:
        yield SimpleNamespace(url=url, app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def demo_server(live_server):
    """The live server with the demo hospital loaded, for the browser journeys and audits. The test reads what the
    server wrote through the same app's database session, in its app context."""
    result = live_server.app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with live_server.app.app_context():
        yield live_server


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    """After a run of the security suite, say what it tried and whether anything got through."""
    import sys

    tried = getattr(sys.modules.get("tests.test_security"), "TRIED", None)
    if not tried:
        return
    failed = [report.nodeid for report in terminalreporter.stats.get("failed", [])
              if "test_security" in report.nodeid]
    verdict = f"{len(failed)} attack(s) got through" if failed else "nothing got through"
    terminalreporter.write_sep("-", f"security suite: what was tried, and {verdict}")
    for name, count in sorted(tried.items()):
        terminalreporter.write_line(f"  {name}: {count}")
