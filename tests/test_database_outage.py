"""A database restart while the portal runs: pages answer 503 (never a 500, never a half-saved form) while the
database is away, and the same app recovers by itself when it is back, through the pool's pre-ping.

The restart is played by a relay between the portal and PostgreSQL that can drop every open connection and
refuse new ones, which is what the portal sees of a restart, without restarting the server the rest of the
suite runs against. SQLite is a file in the portal's own process: it has no outage to survive.
"""
from __future__ import annotations

import selectors
import socket
import threading

import pytest
from sqlalchemy.engine import make_url

from portal.extensions import db
from portal.questions.models import Question, StaffProfile

from .conftest import csrf_token


class DatabaseRelay:
    """Relays TCP connections to the database; ``down()`` cuts them all and refuses new ones until ``up()``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._running = threading.Event()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        self._running.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            while self._running.is_set():
                if not selector.select(timeout=0.05):
                    continue
                try:
                    client, _address = listener.accept()
                except OSError:
                    return
                server = socket.create_connection(self.target)
                with self._lock:
                    self._open.update((client, server))
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        _close(sink)


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


@pytest.fixture
def relay(database_url):
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("SQLite is a file in the portal's process; an outage needs a database server")
    relay = DatabaseRelay(url.host or "127.0.0.1", url.port or 5432)
    relay.up()
    yield relay
    relay.down()


@pytest.fixture
def portal_through_relay(make_app, relay, database_url):
    """A second app on the same database, reached through the relay (the first one, ``app``, builds the data
    and empties the tables afterwards)."""
    url = make_url(database_url).set(host="127.0.0.1", port=relay.port)
    relayed = make_app(SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False))
    yield relayed
    relay.down()
    with relayed.app_context():
        db.engine.dispose()


def test_pages_answer_503_while_the_database_restarts_and_recover_by_themselves(
        app, make, household, relay, portal_through_relay):
    user, statement = household
    staff = make.user("maria@example.org", role="staff")
    db.session.add(StaffProfile(user=staff, display_name="Maria Santos", job_title="Billing specialist",
                                languages=["en"], topics=["charges"]))
    db.session.commit()
    client = portal_through_relay.test_client()
    client.post("/login", data={"email": user.email, "password": "correct horse battery",
                                "csrf_token": csrf_token(client, "/login")})
    assert client.get(f"/statements/{statement.number}").status_code == 200
    ask_token = csrf_token(client, f"/statements/{statement.number}/ask")

    relay.down()
    for path in (f"/statements/{statement.number}", "/statements", f"/statements/{statement.number}/pay"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "30"
        page = response.get_data(as_text=True)
        assert "The billing portal is briefly unavailable" in page and "nothing was charged" in page
        assert "Alex Guarantor" not in page and user.email not in page
    assert client.get("/healthz").status_code == 503
    question = {"csrf_token": ask_token, "topic": "charges", "message": "Why is this so high?", "language": "en",
                "contact_method": "email", "email": user.email}
    assert client.post(f"/statements/{statement.number}/ask", data=question).status_code == 503
    # Someone who was not signed in sees the same page, in their language.
    assert "Retry-After" in portal_through_relay.test_client().get(
        f"/statements/{statement.number}", headers={"Accept-Language": "es"}).headers

    relay.up()
    # The same app and the same browser: no restart, still signed in, the pooled connections replaced.
    assert client.get("/healthz").status_code == 200
    page = client.get(f"/statements/{statement.number}")
    assert page.status_code == 200 and statement.number in page.get_data(as_text=True)
    # The question sent during the outage was not half-saved; sending it again works, once.
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Question.id))) == 0
    assert client.post(f"/statements/{statement.number}/ask", data=question).status_code == 302
    assert db.session.scalar(db.select(db.func.count(Question.id))) == 1


def test_the_outage_page_is_translated(app, household, relay, portal_through_relay):
    _user, statement = household
    relay.down()
    response = portal_through_relay.test_client().get(f"/statements/{statement.number}",
                                                      headers={"Accept-Language": "es"})
    assert response.status_code == 503
    assert 'lang="es"' in response.get_data(as_text=True)
