"""Benchmark printed statements: render time by size, against plain WeasyPrint, cached downloads, statement runs.

Builds a fresh database (a temporary SQLite file, or PostgreSQL when PORTAL_BENCH_DATABASE_URL is set: its
public schema is rebuilt) with the shipped glossary and statements of 5, 40 and 200 lines priced like the
demo hospital's, then prints:

- p50/p95 of our render (HTML from the template, then the PDF, on a warm worker) per size;
- the same HTML printed the plain way, ``weasyprint.HTML(string=...).write_pdf()`` with the stylesheet
  inlined, and the ratio;
- a cached download through the app (``GET /statements/<number>/pdf``, test client);
- a statement run of ``BENCH_PDF_RUN`` statements (default 200) on every core, and peak memory per worker.

Asserts nothing. Usage: ``make bench`` or ``.venv/bin/python bench/statements_pdf.py``.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import date, timedelta

from common import fresh_app, ms, percentile  # bench/ is on the path

import weasyprint  # noqa: E402

from portal.auth.models import User  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.billing.models import Account, LineItem, Organisation, Patient, Statement, Visit  # noqa: E402
from portal.demo import data  # noqa: E402
from portal.demo.services import adjudicate  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.glossary.services import load_builtin_content  # noqa: E402
from portal.statements import batch, cache, pdf, services  # noqa: E402

SIZES = (5, 40, 200)
RUNS = {5: 25, 40: 15, 200: 5}
RUN_SIZE = int(os.environ.get("BENCH_PDF_RUN", "200"))
# A statement run's statements: mostly short bills, some long stays (about 9 lines on average).
RUN_LINES = (3, 5, 5, 6, 8, 12, 25)






def build_app(workdir: str):
    app = fresh_app(workdir, RATELIMIT_ENABLED=False, STATEMENT_PDF_CACHE_DIR=os.path.join(workdir, "cache"),
                    PUBLIC_URL="https://billing.example.org")
    with app.app_context():
        load_builtin_content()
        db.session.commit()
    return app


def add_statement(account: Account, patient: Patient, number: str, lines: int, today: date) -> Statement:
    statement = Statement(account=account, number=number, statement_date=today - timedelta(days=3),
                          due_date=today + timedelta(days=27), currency="USD")
    plan = data.PLANS["blueriver"]
    services = list(data.SERVICES)
    deductible_left = [50000]
    per_visit = 12
    visit = None
    for position in range(lines):
        if position % per_visit == 0:
            visit = Visit(statement=statement, patient=patient,
                          visit_date=today - timedelta(days=40 - position // per_visit),
                          facility="Riverside Community Hospital", department="Internal Medicine",
                          provider="Dr. Samuel Ortiz", payer=plan.name)
            db.session.add(visit)
        service = services[position % len(services)]
        system, code, description, _unit = data.SERVICES[service]
        quantity = 1 + position % 3
        amounts = adjudicate(service, quantity, plan, first_in_visit=position % per_visit == 0, emergency=False,
                             deductible_left=deductible_left)
        visit.lines.append(LineItem(position=position, service_date=visit.visit_date, code_system=system,
                                    code=code, description=description, quantity=quantity, **amounts))
    db.session.add(statement)
    return statement


def populate(app) -> dict[int, str]:
    with app.app_context():
        organisation = Organisation(slug="riverside", name="Riverside Community Hospital",
                                    address="1200 River Road\nSpringfield, IL 62704\nUnited States",
                                    phone="+1 217-555-0142", email="billing@riverside.example", currency="USD",
                                    time_zone="America/Chicago", default_locale="en")
        db.session.add(organisation)
        today = date.today()
        by_size = {}
        for index in range(len(SIZES) + RUN_SIZE):
            account = Account(organisation=organisation, number=str(20000 + index),
                              guarantor_name=f"Jordan Rivera {index}", mailing_address="48 Maple Street\nSpringfield, "
                              "IL 62701", preferred_locale="en")
            patient = Patient(account=account, mrn=f"B{index}", given_name="Jordan", family_name="Rivera",
                              birth_date=date(1980, 5, 17))
            db.session.add_all([account, patient])
            if index < len(SIZES):
                size = SIZES[index]
                by_size[size] = add_statement(account, patient, str(900000000 + size), size, today).number
            else:
                add_statement(account, patient, str(910000000 + index), RUN_LINES[index % len(RUN_LINES)], today)
        # A supervisor opens any statement (billing staff only those of the questions given to them).
        db.session.add(User(email="clerk@example.org", password_hash=hash_password("bench password"),
                            role="supervisor", locale="en"))
        db.session.commit()
        return by_size


def render_times(app, number: str, runs: int) -> dict[str, list[float]]:
    """Our render (HTML, then PDF) and the plain WeasyPrint baseline of the same HTML, taken in turns so
    that a machine's changing speed weighs on both alike."""
    times: dict[str, list[float]] = {"html": [], "print": [], "total": [], "plain": []}
    with app.test_request_context(base_url=app.config["PUBLIC_URL"]):
        statement = db.session.query(Statement).filter_by(number=number).one()
        pdf.print_pdf(pdf.statement_document(statement, "en").html)  # warm the worker's fonts and stylesheet
        with open(os.path.join(app.static_folder, pdf.STYLESHEET), encoding="utf-8") as css:
            stylesheet = css.read()
        for _ in range(runs):
            started = time.perf_counter()
            document = pdf.statement_document(statement, "en")
            written = time.perf_counter()
            pdf.print_pdf(document.html)
            done = time.perf_counter()
            times["html"].append(written - started)
            times["print"].append(done - written)
            times["total"].append(done - started)
            standalone = document.html.replace("</head>", f"<style>{stylesheet}</style></head>", 1)
            started = time.perf_counter()
            weasyprint.HTML(string=standalone).write_pdf()
            times["plain"].append(time.perf_counter() - started)
        times["pages"] = [len(weasyprint.HTML(string=standalone).render().pages)]
    db.session.remove()
    return times


def cached_downloads(app, number: str, runs: int = 200) -> list[float]:
    client = app.test_client()
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": "clerk@example.org", "password": "bench password", "csrf_token": token})
    assert client.get(f"/statements/{number}/pdf").status_code == 200  # printed and cached
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(f"/statements/{number}/pdf")
        response.get_data()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def cache_hits(app, number: str, runs: int = 200) -> list[float]:
    """The cache's own part of a download: working out the content version and reading the file."""
    times = []
    with app.test_request_context(base_url=app.config["PUBLIC_URL"]):
        statement = db.session.query(Statement).filter_by(number=number).one()
        language = services.Language("en")
        services.statement_pdf(statement, language)
        for _ in range(runs):
            started = time.perf_counter()
            printed = services.statement_pdf(statement, language)
            times.append(time.perf_counter() - started)
            assert not printed.printed
    db.session.remove()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as workdir:
        app = build_app(workdir)
        by_size = populate(app)
        print(f"WeasyPrint {weasyprint.__version__}, {os.cpu_count()} cores; times are wall-clock on one core.")
        print("ours = HTML from the template + PDF on a warm worker; plain = weasyprint.HTML(string=the same "
              "HTML with the stylesheet inlined).write_pdf(); speed-up = plain p50 / our PDF step p50")
        print(f"{'lines':>5} {'pages':>5} {'HTML p50':>9} {'PDF p50':>9} {'ours p50':>9} {'ours p95':>9} "
              f"{'plain p50':>9} {'plain p95':>9} {'speed-up':>8}")
        with app.app_context():
            for size in SIZES:
                t = render_times(app, by_size[size], RUNS[size])
                p50 = {key: statistics.median(values) for key, values in t.items()}
                print(f"{size:>5} {t['pages'][0]:>5} {ms(p50['html']):>9} {ms(p50['print']):>9} "
                      f"{ms(p50['total']):>9} {ms(percentile(t['total'], .95)):>9} {ms(p50['plain']):>9} "
                      f"{ms(percentile(t['plain'], .95)):>9} {p50['plain'] / p50['print']:>7.2f}x")
            cached = cached_downloads(app, by_size[40])
            hits = cache_hits(app, by_size[40])
        print(f"cached download of the 40-line statement, the whole GET through the app (sign-in check, audit "
              f"record, response; {len(cached)} requests): p50 {ms(statistics.median(cached))}, "
              f"p95 {ms(percentile(cached, .95))}")
        print(f"  of which the cache (content version and file read): p50 {ms(statistics.median(hits))}, "
              f"p95 {ms(percentile(hits, .95))}")
        with app.app_context():
            numbers = [n for n in batch.all_statement_numbers() if n.startswith("91")]
            average = sum(RUN_LINES[i % len(RUN_LINES)] for i in range(len(SIZES), len(SIZES) + RUN_SIZE)) / RUN_SIZE
            for jobs in sorted({1, os.cpu_count() or 1}):
                cache.clear()  # every statement of the run is printed, none comes from the cache
                summary = batch.run(numbers, lang=None, out_dir=os.path.join(workdir, f"out-{jobs}"), jobs=jobs)
                print(f"statement run: {summary.count} statements ({average:.1f} lines on average) on {jobs} "
                      f"{'process' if jobs == 1 else 'processes'} in {summary.seconds:.1f} s: "
                      f"{summary.per_second:.1f} statements per second, {len(summary.failures)} failed, "
                      f"peak memory per worker {summary.peak_memory_kb / 1024:.0f} MB")


if __name__ == "__main__":
    main()
