"""Load benchmark: the portal under gunicorn, hit by wrk as many signed-in patients at once, against a baseline.

1. The data: ``bench/scale_data.py`` (10,000 accounts, 50,000 statements, a login each) in its own PostgreSQL
   database, generated once and reused.
2. The servers: the portal (``portal:create_app()`` configured by ``PORTAL_*`` variables) and the baseline
   (``bench/baseline_app.py``: plain Flask, SQL and Jinja for the same statement rows), each under gunicorn with
   ``BENCH_LOAD_WORKERS`` workers (2) of ``BENCH_LOAD_WORKER_CLASS``: sync by default, which served every page
   faster here than gthread (``BENCH_LOAD_THREADS`` threads a worker, 4) on two cores: the pages are CPU-bound,
   and threads of one process share one interpreter lock.
3. ``BENCH_LOAD_PATIENTS`` patients (1,000) sign in over HTTP (the login form with its CSRF token); their
   session cookies and statement numbers go to a file that ``bench/load.lua`` reads, so that every request
   is a random patient opening one of their own pages.
4. wrk runs ``BENCH_LOAD_SECONDS`` (12) per page and number of connections, one at a time: the statement
   page, in turns with the same page served by ``bench/ceiling_app.py`` (the portal with the page's data and
   HTML taken from memory: the most any page cache could bring) and with the baseline's; the list of statements and the glossary at 16 and 64 connections; a
   mixed run; the PDF download, cached (the statements printed beforehand by a statement run, as after an
   import of bills), at 4 and 16; and a few downloads that print, one at a time.

Prints requests a second, p50/p95/p99 latency and errors (any status but 200, and socket errors) per run, then
the issue's targets against what was measured. Asserts nothing. Usage: ``make bench-load`` or
``.venv/bin/python bench/load.py``.
"""
from __future__ import annotations

import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Callable, Iterator

from common import ROOT, SECRET_KEY, free_port  # bench/ is on the path

import requests  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

import baseline_app  # noqa: E402
import scale_data  # noqa: E402
from portal import create_app  # noqa: E402
from portal.auth.models import User, UserAccount  # noqa: E402
from portal.billing.models import Statement  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.statements import batch, cache  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(BENCH, "load.lua")
# Kept between runs (git-ignored): the printed statements, so that only the first run prints them.
WORKDIR = os.path.join(ROOT, "instance", "bench-load")
PATIENTS = int(os.environ.get("BENCH_LOAD_PATIENTS", "1000"))
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "12"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
WORKER_CLASS = os.environ.get("BENCH_LOAD_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_LOAD_THREADS", "4"))
CONNECTIONS = (16, 64)
PDF_CONNECTIONS = (4, 16)
# Patients whose statements are printed before the PDF runs (five statements each).
PDF_PATIENTS = int(os.environ.get("BENCH_LOAD_PDF_PATIENTS", "40"))
PRINTED_DOWNLOADS = 8
# The address printed on statements: the same for the statement run and the server, so that both file a
# statement's PDF under the same content version.
PUBLIC_URL = "https://billing.example.org"
# Rate limits are for people guessing; a thousand patients from one address must not meet them.
NO_LIMIT = "1000000 per minute"
# Waited for before starting (the machine is shared): the 1-minute load average, for at most this long.
CALM_LOAD = 1.0
CALM_WAIT_SECONDS = int(os.environ.get("BENCH_LOAD_CALM_WAIT", "90"))
# The statement page of bench/ceiling_app.py: everything but the page's own data and HTML.
CEILING = "statement, page from memory"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- Servers -----------------------------------------------------------------------------------------

def portal_environment(url: str) -> dict[str, str]:
    """The portal's settings, as an operator gives them: PORTAL_* variables (development mode, a fixed key)."""
    return {"PORTAL_ENV": "development", "PORTAL_SECRET_KEY": SECRET_KEY, "PORTAL_SQLALCHEMY_DATABASE_URI": url,
            "PORTAL_PASSWORD_HASH_PROFILE": scale_data.PASSWORD_HASH_PROFILE, "PORTAL_AUTH_RATE_LIMIT": NO_LIMIT,
            "PORTAL_STATEMENT_PDF_RATE_LIMIT": NO_LIMIT, "PORTAL_PUBLIC_URL": PUBLIC_URL,
            "PORTAL_STATEMENT_PDF_CACHE_DIR": os.path.join(WORKDIR, "statement-pdfs"),
            "PORTAL_HUEY_SQLITE_PATH": os.path.join(WORKDIR, "huey.sqlite3")}


def gunicorn_command(app_spec: str, port: int) -> list[str]:
    command = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--workers", str(WORKERS),
               "--worker-class", WORKER_CLASS, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    if WORKER_CLASS == "gthread":
        command += ["--threads", str(THREADS)]
    return command + [app_spec]


@contextmanager
def serve(name: str, app_spec: str, environment: dict[str, str], cwd: str, ready_path: str) -> Iterator[str]:
    """Run ``app_spec`` under gunicorn until the block ends; yield its base URL once ``ready_path`` answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(os.path.join(WORKDIR, f"{name}.log"), "w") as log:
        process = subprocess.Popen(gunicorn_command(app_spec, port), cwd=cwd, env=os.environ | environment,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(process, base + ready_path, name)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_ready(process: subprocess.Popen, url: str, name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {name} server stopped; see {os.path.join(WORKDIR, name + '.log')}")
        try:
            # A worker's first request imports and compiles what it needs: slow on a busy machine.
            if requests.get(url, timeout=30).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise SystemExit(f"the {name} server did not answer {url}")


# --- Patients ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Patient:
    email: str
    numbers: list[str]
    cookie: str = ""


def choose_patients(count: int) -> list[Patient]:
    """``count`` logins picked at random (always the same ones), each with its statement numbers."""
    emails = [scale_data.login_email(index) for index in random.Random(7).sample(range(scale_data.ACCOUNTS), count)]
    rows = db.session.execute(select(User.email, Statement.number)
                              .join(UserAccount, UserAccount.user_id == User.id)
                              .join(Statement, Statement.account_id == UserAccount.account_id)
                              .where(User.email.in_(emails)).order_by(Statement.number))
    numbers: dict[str, list[str]] = {email: [] for email in emails}
    for email, number in rows:
        numbers[email].append(number)
    return [Patient(email, numbers[email]) for email in emails]


def sign_in(base: str, patient: Patient) -> Patient:
    """Sign in through the login form, as a browser does; the patient with their session cookie."""
    with requests.Session() as browser:
        token = CSRF.search(browser.get(base + "/login", timeout=30).text).group(1)
        response = browser.post(base + "/login", data={"email": patient.email, "csrf_token": token,
                                                       "password": scale_data.LOGIN_PASSWORD},
                                allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise SystemExit(f"{patient.email} could not sign in: {response.status_code}")
        return Patient(patient.email, patient.numbers, f"session={browser.cookies['session']}")


def sign_in_all(base: str, patients: list[Patient]) -> list[Patient]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda patient: sign_in(base, patient), patients))


def write_patients(patients: list[Patient], path: str) -> str:
    with open(path, "w") as out:
        for patient in patients:
            out.write(f"{patient.cookie}\t{','.join(patient.numbers)}\n")
    return path


# --- Page sizes and printed statements ---------------------------------------------------------------

def mean_size(page: Callable[[Patient, str], tuple[int, bytes]], patients: list[Patient]) -> float:
    """The mean size of ``page(patient, number)`` (a status and a body) over the patients' statements."""
    sizes = []
    for patient in patients:
        for number in patient.numbers:
            status, body = page(patient, number)
            if status != 200:
                raise SystemExit(f"statement {number} answered {status}")
            sizes.append(len(body))
    return statistics.mean(sizes)


def baseline_pad(base: str, url: str, patients: list[Patient]) -> tuple[float, float, int]:
    """Our statement page's mean size, the baseline's without filler, and the filler that evens them."""
    def ours(patient: Patient, number: str) -> tuple[int, bytes]:
        response = requests.get(f"{base}/statements/{number}", headers={"Cookie": patient.cookie}, timeout=30)
        return response.status_code, response.content

    client = baseline_app.create_app(url, pad=0).test_client()

    def plain(_patient: Patient, number: str) -> tuple[int, bytes]:
        response = client.get(f"/statements/{number}")
        return response.status_code, response.data

    ours_size, plain_size = mean_size(ours, patients), mean_size(plain, patients)
    return ours_size, plain_size, max(0, round(ours_size - plain_size))


def print_statements(app: Flask, patients: list[Patient]) -> batch.RunSummary:
    """Fill the PDF cache for these patients' statements with a statement run on every core."""
    numbers = [number for patient in patients for number in patient.numbers]
    with app.app_context(), tempfile.TemporaryDirectory() as out_dir:
        return batch.run(numbers, lang=None, out_dir=out_dir, jobs=os.cpu_count() or 1)


def cached_pdfs() -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(os.path.join(WORKDIR, "statement-pdfs")))


def printed_downloads(app: Flask, base: str, patients: list[Patient]) -> list[float]:
    """Download statements whose PDF is not in the cache, one at a time: each is printed on the spot."""
    seconds = []
    with app.app_context():
        for patient in patients[:PRINTED_DOWNLOADS]:
            number = patient.numbers[-1]
            cache.discard(number)
            started = time.perf_counter()
            response = requests.get(f"{base}/statements/{number}/pdf", headers={"Cookie": patient.cookie},
                                    timeout=120)
            seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"the PDF of {number} answered {response.status_code}")
    return seconds


# --- wrk -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    label: str
    connections: int
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    non200: int
    statuses: str
    socket_errors: int
    bytes: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        return self.non200 + self.socket_errors


def wrk(label: str, base: str, page: str, connections: int, patients_file: str, seconds: int = SECONDS,
        timeout: int = 10) -> Run:
    """One wrk run of ``page`` with ``connections`` connections (two wrk threads)."""
    command = [shutil.which("wrk") or "wrk", "-t", str(min(2, connections)), "-c", str(connections),
               "-d", f"{seconds}s", "--timeout", f"{timeout}s", "-s", LUA, base, "--", page, patients_file]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
    return Run(label, connections, found["requests"], found["duration_us"] / 1e6, found["p50_us"] / 1000,
               found["p95_us"] / 1000, found["p99_us"] / 1000, found["non200"], found["statuses"],
               found["connect"] + found["read"] + found["write"] + found["timeout"], found["bytes"])


def print_run(run: Run) -> None:
    statuses = f" ({run.statuses})" if run.statuses else ""
    print(f"| {run.label} | {run.connections} | {run.per_second:,.1f} | {run.p50:.1f} ms | {run.p95:.1f} ms | "
          f"{run.p99:.1f} ms | {run.non200}{statuses} / {run.socket_errors} | {run.bytes / run.requests / 1000:.1f} KB |",
          flush=True)


# --- The whole benchmark ------------------------------------------------------------------------------

def wait_for_calm() -> tuple[float, float, float]:
    """Wait (a while) for the machine's 1-minute load average to settle; return the load averages then."""
    deadline = time.monotonic() + CALM_WAIT_SECONDS
    while os.getloadavg()[0] > CALM_LOAD and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()


def versions(app: Flask) -> str:
    with app.app_context():
        postgres = db.session.scalar(text("SHOW server_version"))
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
    packages = ", ".join(f"{name} {version(name)}" for name in ("gunicorn", "Flask", "SQLAlchemy", "psycopg", "Jinja2"))
    return f"Python {platform.python_version()}, {packages}, PostgreSQL {postgres}, wrk {wrk_version}"


def measure(base: str, baseline: str, ceiling: str, patients_file: str) -> list[Run]:
    """The page runs: ours, the ceiling's and the baseline's statement page in turns, then the other pages.

    The statement pages also run with one connection: a page's own time, with no queue in front of it (with
    16 or 64 connections and two workers, most of a request's latency is its wait for a free worker)."""
    runs = []
    for connections in (1, *CONNECTIONS):
        for label, server in (("statement", base), (CEILING, ceiling), ("baseline statement", baseline)):
            runs.append(wrk(label, server, "statement", connections, patients_file))
            print_run(runs[-1])
    for page in ("statements", "glossary", "mixed"):
        for connections in CONNECTIONS:
            runs.append(wrk(page, base, page, connections, patients_file))
            print_run(runs[-1])
    return runs


def targets(runs: list[Run]) -> None:
    def find(label: str, connections: int) -> Run:
        return next(run for run in runs if run.label == label and run.connections == connections)

    statement_16 = find("statement", 16)
    best = max((run for run in runs if run.label == "statement"), key=lambda run: run.per_second)
    ratio = best.per_second / find("baseline statement", best.connections).per_second
    ceiling = max((run for run in runs if run.label == CEILING), key=lambda run: run.per_second)
    ceiling_ratio = ceiling.per_second / find("baseline statement", ceiling.connections).per_second
    errors = sum(run.errors for run in runs)
    rows = [
        ("statement page p95 < 50 ms at 16 users", f"{statement_16.p95:.1f} ms", statement_16.p95 < 50),
        ("≥ 200 statement pages/s at saturation (2 cores)",
         f"{best.per_second:.1f}/s ({best.connections} users)", best.per_second >= 200),
        ("statement page ≥ 0.5 of the baseline's throughput", f"{ratio:.2f}", ratio >= 0.5),
        ("zero errors", f"{errors} in {sum(run.requests for run in runs):,} requests", errors == 0),
    ]
    print("\n| target | measured | |\n|---|---|---|")
    for target, measured, met in rows:
        print(f"| {target} | {measured} | {'met' if met else 'missed'} |")
    ceiling_16 = find(CEILING, 16)
    print(f"\nThe ceiling (the page's data and HTML from memory; sign-in, access check and audit record kept): "
          f"{ceiling.per_second:.1f}/s at {ceiling.connections} users, p95 {ceiling_16.p95:.1f} ms at 16 users, "
          f"{ceiling_ratio:.2f} of the baseline.")


def main() -> None:
    started = time.perf_counter()
    os.makedirs(WORKDIR, exist_ok=True)
    # Before anything of ours runs: what else the machine is doing (a test suite, another benchmark).
    load = wait_for_calm()
    print(f"Load average before starting: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    url = scale_data.database_url()
    app, found, generated = scale_data.ensure_data(url)
    print(f"Data: {found.accounts:,} accounts, {found.statements:,} statements, {found.visits:,} visits, "
          f"{found.lines:,} lines, {found.payments:,} payments, {found.logins:,} logins ({generated:.1f} s).")
    environment = portal_environment(url)
    print_app = create_app(scale_data.bench_config(url) | {
        "STATEMENT_PDF_CACHE_DIR": environment["PORTAL_STATEMENT_PDF_CACHE_DIR"], "PUBLIC_URL": PUBLIC_URL})
    with app.app_context():
        patients = choose_patients(PATIENTS)
    summary = print_statements(print_app, patients[:PDF_PATIENTS])
    print(f"Statement run for the PDF downloads: {summary.count} statements, {summary.printed} printed, "
          f"{summary.from_cache} already in the cache, {len(summary.failures)} failed ({summary.seconds:.1f} s).")
    print(versions(app))
    print(f"gunicorn: {WORKERS} workers, {WORKER_CLASS}" + (f" with {THREADS} threads" if WORKER_CLASS == "gthread"
                                                              else ""))
    with serve("portal", "portal:create_app()", environment, ROOT, "/glossary") as base:
        signing_in = time.perf_counter()
        patients = sign_in_all(base, patients)
        print(f"{len(patients)} patients signed in over HTTP in {time.perf_counter() - signing_in:.1f} s.")
        patients_file = write_patients(patients, os.path.join(WORKDIR, "patients.tsv"))
        pdf_file = write_patients(patients[:PDF_PATIENTS], os.path.join(WORKDIR, "pdf-patients.tsv"))
        ours, plain, pad = baseline_pad(base, url, patients[:20])
        print(f"Statement page: ours {ours / 1000:.1f} KB on average, the baseline's {plain / 1000:.1f} KB "
              f"before {pad / 1000:.1f} KB of filler.")
        baseline_environment = {"PORTAL_BENCH_DATABASE_URL": url, "BENCH_BASELINE_PAD": str(pad)}
        with serve("baseline", "baseline_app:create_app()", baseline_environment, BENCH,
                   f"/statements/{patients[0].numbers[0]}") as baseline:
            # Warm both (templates compiled, connection pools filled) before anything is recorded.
            wrk("warm-up", base, "mixed", 16, patients_file, seconds=3)
            wrk("warm-up", baseline, "statement", 16, patients_file, seconds=3)
            load = os.getloadavg()
            print(f"Load average after the warm-up: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
            print("\n| page | users | requests/s | p50 | p95 | p99 | errors (non-200 / socket) | size |\n"
                  "|---|---:|---:|---:|---:|---:|---:|---:|")
            with serve("ceiling", "ceiling_app:create_app()", environment, BENCH, "/glossary") as ceiling:
                wrk("warm-up", ceiling, "statement", 16, patients_file, seconds=3)
                runs = measure(base, baseline, ceiling, patients_file)
        in_cache = cached_pdfs()
        pdf_runs = [wrk("PDF, cached", base, "pdf", connections, pdf_file, timeout=30) for connections in PDF_CONNECTIONS]
        for run in pdf_runs:
            print_run(run)
        print(f"PDFs printed during the cached runs: {cached_pdfs() - in_cache} (0: every download was a cache hit).")
        printing = printed_downloads(print_app, base, patients[PDF_PATIENTS:])
        print(f"Downloads that print the PDF, one at a time: p50 {statistics.median(printing) * 1000:.0f} ms, "
              f"max {max(printing) * 1000:.0f} ms ({len(printing)} statements).")
    load = os.getloadavg()
    print(f"Load average after measuring (ours included: servers, wrk, PostgreSQL): "
          f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    targets(runs + pdf_runs)
    print(f"\nWhole benchmark: {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
