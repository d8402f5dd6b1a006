"""A real PostgreSQL restart under a running portal: gunicorn with two workers serves a signed-in patient's
statement list while a client asks for it every 20 ms; PostgreSQL is restarted in the middle. Prints what
the client got before, during and after (200s, 503s, anything else) and how long the portal took to answer
200 again. The portal is never restarted. Needs PostgreSQL (PORTAL_BENCH_DATABASE_URL) and the right to
restart it (`pg_ctlcluster`, as root, on Debian), so it is not part of `make test` nor `make bench`:
run `make bench-restart`.
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from common import ROOT, SECRET_KEY, database_url, free_port, fresh_app

POLL_SECONDS = 0.02


def _restart_command() -> list[str]:
    if os.environ.get("PORTAL_BENCH_RESTART_COMMAND"):
        return os.environ["PORTAL_BENCH_RESTART_COMMAND"].split()
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


def _serve(url: str, port: int, workdir: str) -> subprocess.Popen:
    env = dict(os.environ, PORTAL_SQLALCHEMY_DATABASE_URI=url, PORTAL_SECRET_KEY=SECRET_KEY,
               PORTAL_PASSWORD_HASH_PROFILE="CHEAPEST", PORTAL_HUEY_SQLITE_PATH=f"{workdir}/huey.sqlite3")
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                             "--log-level", "warning", "portal:create_app()"], cwd=ROOT, env=env)


def _signed_in(base: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    for _ in range(100):
        try:
            page = opener.open(f"{base}/login", timeout=5).read().decode()
            break
        except OSError:
            time.sleep(0.1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": "patient@example.org", "password": "demo-patient-1",
                                   "csrf_token": token}).encode()
    opener.open(f"{base}/login", data=form, timeout=5)
    return opener


def _poll(opener, url: str, stop: threading.Event, seen: list[tuple[float, str]]) -> None:  # noqa: ANN001
    while not stop.is_set():
        try:
            with opener.open(url, timeout=10) as response:
                outcome = str(response.status)
        except urllib.error.HTTPError as error:
            outcome = f"{error.code} Retry-After={error.headers.get('Retry-After')}"
        except OSError as error:
            outcome = f"no answer ({type(error).__name__})"
        seen.append((time.monotonic(), outcome))
        time.sleep(POLL_SECONDS)


def main() -> None:
    url = database_url("")
    if not url.startswith("postgresql"):
        sys.exit("set PORTAL_BENCH_DATABASE_URL to a PostgreSQL database kept for benchmarks")
    with tempfile.TemporaryDirectory() as workdir:
        app = fresh_app(workdir)
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        port = free_port()
        server = _serve(url, port, workdir)
        try:
            base = f"http://127.0.0.1:{port}"
            opener = _signed_in(base)
            stop, seen = threading.Event(), []
            poller = threading.Thread(target=_poll, args=(opener, f"{base}/statements", stop, seen))
            poller.start()
            time.sleep(3)
            restart_at = time.monotonic()
            subprocess.run(_restart_command(), check=True)
            restarted_at = time.monotonic()
            time.sleep(5)
            stop.set()
            poller.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(seen, restart_at, restarted_at)


def report(seen: list[tuple[float, str]], restart_at: float, restarted_at: float) -> None:
    phases = {"before": [o for t, o in seen if t < restart_at],
              "during": [o for t, o in seen if restart_at <= t < restarted_at],
              "after": [o for t, o in seen if t >= restarted_at]}
    print(f"PostgreSQL restart took {restarted_at - restart_at:.2f} s; polled {len(seen)} times")
    for phase, outcomes in phases.items():
        counts = {outcome: outcomes.count(outcome) for outcome in dict.fromkeys(outcomes)}
        print(f"  {phase:>6}: " + ", ".join(f"{count} x {outcome}" for outcome, count in counts.items()))
    failing = [t for t, o in seen if t >= restart_at and o != "200"]
    back = next((t for t, o in seen if t >= restarted_at and o == "200" and
                 all(o2 == "200" for t2, o2 in seen if t2 >= t)), None)
    if back is None:
        print("  the portal did NOT recover")
    else:
        print(f"  answering 200 again {back - restarted_at:.2f} s after PostgreSQL was back "
              f"({len(failing)} requests were not 200, {back - restart_at:.2f} s after the restart began)")


if __name__ == "__main__":
    main()
