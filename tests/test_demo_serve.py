"""`make run`'s last step, `flask --app portal demo serve`, as real processes: the portal, the local Stripe
stand-in and the background worker, which sends the portal's emails and stops with the portal."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from .conftest import _free_port, _wait_for_port


def _flask(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "portal", *args], env=env, check=True,
                          capture_output=True, text=True, timeout=180, **kwargs)


def _worker_pids(queue_path: str) -> list[int]:
    # The worker is found by the environment it was given: this test's own queue file.
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if queue_path.encode() in environ.read() and b"worker" in cmdline.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_demo_serve_runs_the_worker_that_sends_the_portals_email(tmp_path, smtp_server, stop):
    queue_path = str(tmp_path / "queue.sqlite3")
    env = dict(os.environ, PORTAL_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               PORTAL_HUEY_SQLITE_PATH=queue_path, PORTAL_STATEMENT_PDF_CACHE_DIR=str(tmp_path / "pdfs"),
               PORTAL_MAIL_SERVER="127.0.0.1", PORTAL_MAIL_PORT=str(smtp_server.port))
    env.pop("PORTAL_TEST_DATABASE_URL", None)
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "load")
    port, stripe_port = _free_port(), _free_port()
    log = open(tmp_path / "serve.log", "w+")
    serve = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "demo", "serve", "--port", str(port),
                              "--stripe-port", str(stripe_port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, seconds=60)
        base = f"http://127.0.0.1:{port}"
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = browser.open(f"{base}/password/forgot", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"email": "patient@example.org", "csrf_token": token}).encode()
        started = time.monotonic()
        answer = browser.open(f"{base}/password/forgot", data=form, timeout=10)
        assert answer.status == 200 and "we have sent it a link" in answer.read().decode()
        deadline = time.monotonic() + 30
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert smtp_server.messages, "the worker did not send the reset email"
        [email] = smtp_server.emails()
        assert email["To"] == "patient@example.org" and f"{base}/password/reset/" in email.get_content()
        assert time.monotonic() - started < 30
        assert _worker_pids(queue_path)
    finally:
        serve.send_signal(stop)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        deadline = time.monotonic() + 15
        while (left := _worker_pids(queue_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Worker for SqliteHuey" in output, output
    assert not left, "the worker outlived the portal"
