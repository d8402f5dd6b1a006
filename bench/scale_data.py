"""Scale the demo hospital up for the load benchmark, in its own PostgreSQL database, once.

10,000 guarantor accounts (``BENCH_LOAD_ACCOUNTS``) of one to three patients, five statements each (50,000), each
statement 1 to 4 visits and 3 to 12 lines priced like the demo hospital's (``portal.demo.services.adjudicate``,
so every line's parts add up to its charge), seven in ten accounts insured (three plans), the rest self-pay; older
bills mostly paid at the front desk, some recent ones paid in part by card; a login for every account, all with
the password ``LOGIN_PASSWORD`` hashed once; the shipped glossary and service dictionary.

The database (``PORTAL_BENCH_DATABASE_URL``, by default ``portal_bench`` on the local PostgreSQL) is created if
missing and migrated. Everything is written in one transaction, with bulk inserts, so the data is there whole
or not at all; a second run finds it (the organisation and its counts) and writes nothing. If the counts differ
(another size was asked for), the database's ``public`` schema is dropped and built again: keep this database
for benchmarks.

Usage: ``.venv/bin/python bench/scale_data.py`` (``bench/load.py`` runs it first).
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, time as clock, timedelta, timezone
from typing import Any

from common import SECRET_KEY  # bench/ is on the path; common puts the checkout on it

import flask_migrate  # noqa: E402
import psycopg  # noqa: E402
from flask import Flask  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from portal import create_app  # noqa: E402
from portal.auth.models import User, UserAccount  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.billing.models import Account, LineItem, Organisation, Patient, Statement, Visit  # noqa: E402
from portal.demo import data  # noqa: E402
from portal.demo.services import adjudicate  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.glossary.services import load_builtin_content  # noqa: E402
from portal.payments.models import Payment  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
ACCOUNTS = int(os.environ.get("BENCH_LOAD_ACCOUNTS", "10000"))
STATEMENTS_PER_ACCOUNT = 5
# The benchmark app's hash profile: the cheapest argon2id parameters, as the other benchmarks and the tests use,
# so that signing a thousand patients in before the load takes seconds. Sign-in is not what is measured.
PASSWORD_HASH_PROFILE = "CHEAPEST"
LOGIN_PASSWORD = "bench-patient-password"
ORGANISATION_SLUG = "bench-load"
# Accounts written per round of bulk inserts: big enough to keep round trips few, small enough to keep memory low.
CHUNK = 500
SEED = 20261203


def login_email(index: int) -> str:
    return f"patient{index:05d}@load.bench.example"


def database_url() -> str:
    return os.environ.get("PORTAL_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


def bench_config(url: str) -> dict[str, Any]:
    """The settings the generator and the PDF warm-up run with; the server gets the same through PORTAL_*."""
    return {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, "PASSWORD_HASH_PROFILE": PASSWORD_HASH_PROFILE}


# --- The database ------------------------------------------------------------------------------------

def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in ``url`` if it is missing; return True if it was created."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit(f"the load benchmark needs PostgreSQL, not {parsed.drivername}")
    # Connect to the server's own `postgres` database: the one we want may not exist yet.
    with psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
                         password=parsed.password, dbname="postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
        return True


@dataclass(frozen=True)
class Counts:
    accounts: int
    statements: int
    visits: int
    lines: int
    payments: int
    logins: int


def counts() -> Counts | None:
    """What the benchmark's organisation holds, or None when it is not there."""
    organisation_id = db.session.scalar(select(Organisation.id).where(Organisation.slug == ORGANISATION_SLUG))
    if organisation_id is None:
        return None
    statements = select(Statement.id).join(Account).where(Account.organisation_id == organisation_id)
    visits = select(Visit.id).where(Visit.statement_id.in_(statements))
    return Counts(
        accounts=db.session.scalar(select(func.count()).select_from(Account)
                                   .where(Account.organisation_id == organisation_id)),
        statements=db.session.scalar(select(func.count()).select_from(statements.subquery())),
        visits=db.session.scalar(select(func.count()).select_from(visits.subquery())),
        lines=db.session.scalar(select(func.count()).select_from(LineItem).where(LineItem.visit_id.in_(visits))),
        payments=db.session.scalar(select(func.count()).select_from(Payment)
                                   .where(Payment.statement_id.in_(statements))),
        logins=db.session.scalar(select(func.count()).select_from(UserAccount).join(Account)
                                 .where(Account.organisation_id == organisation_id)))


def _rebuild_schema() -> None:
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


# --- The people and their bills --------------------------------------------------------------------

GIVEN = ["Jordan", "Elena", "Sam", "Maria", "Ivan", "Layla", "Wei", "Minh", "Amira", "Georgi", "Olivia", "Noah",
         "Ava", "Liam", "Sofia", "Mateo", "Chloe", "Lucas", "Mia", "Ethan", "Zara", "Omar", "Hana", "Petar"]
FAMILY = ["Rivera", "Morales", "Petrov", "Haddad", "Li", "Nguyen", "Khalil", "Ivanov", "Smith", "Johnson",
          "Garcia", "Brown", "Chen", "Tran", "Okafor", "Santos", "Kowalski", "Dimitrova", "Rahman", "Walker"]
STREETS = ["Maple Street", "Oak Avenue", "River Road", "Lincoln Way", "Cedar Lane", "Prairie Drive"]
# The languages of the portal, weighted as a Midwestern hospital's patients might choose them.
LOCALES = (("en", 70), ("es", 14), ("zh_Hans", 5), ("vi", 4), ("ar", 4), ("bg", 3))
PLANS = ((None, 30), ("blueriver", 35), ("medicare", 20), ("lakeside", 15))
FACILITIES = ["Riverside Community Hospital", "Riverside North Clinic", "Riverside Imaging Center"]
# Each department's visit service (starts the copay) and what else is done there.
DEPARTMENTS: dict[str, tuple[list[str], list[str]]] = {
    "Emergency": (["ed_high", "ed_mod"], ["cbc", "bmp", "xr_chest", "ekg", "iv_push", "iv_hydration", "ondansetron",
                                          "ketorolac", "saline", "ct_chest", "pulse_ox", "draw", "splint"]),
    "Family Medicine": (["office_est", "office_new"], ["lipid", "a1c", "ua", "strep", "draw", "flu_vaccine",
                                                       "vaccine_admin", "cmp"]),
    "Pediatrics": (["well_child"], ["strep", "flu_vaccine", "vaccine_admin", "nebulizer", "ua"]),
    "Internal Medicine": (["admit"], ["rounds", "room", "cbc", "cmp", "blood_culture", "procalcitonin",
                                      "ceftriaxone", "heparin_flush", "acetaminophen", "discharge", "echo"]),
    "Radiology": (["office_est"], ["xr_chest", "xr_wrist", "us_abd", "ct_chest", "contrast"]),
    "Orthopedics": (["office_new"], ["xr_wrist", "splint", "wrist_brace", "crutches", "pt_eval", "dexamethasone"]),
}
PROVIDERS = ["Dr. Samuel Ortiz", "Dr. Grace Kim", "Dr. Ahmed Farouk", "Dr. Rachel Adler", "Dr. Tomas Novak",
             "Dr. Priya Raman", "Dr. Daniel Osei"]
AMOUNT_FIELDS = ("allowed", "insurance_paid", "adjustment", "deductible", "copay", "coinsurance", "not_covered")


def pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


@dataclass
class Chunk:
    """The rows of a round of accounts, each table's rows in the order its ids come back."""

    accounts: list[dict]
    patients: list[list[dict]]  # per account
    statements: list[list[dict]]  # per account
    visits: list[list[list[dict]]]  # per account, per statement
    lines: list[list[list[list[dict]]]]  # per account, per statement, per visit
    plans: list[str | None]


def _line_rows(rng: random.Random, department: str, count: int, plan: data.Plan | None, start: date,
               deductible_left: list[int]) -> list[dict]:
    visit_services, extras = DEPARTMENTS[department]
    services = [rng.choice(visit_services)] + [rng.choice(extras) for _ in range(count - 1)]
    rows = []
    for position, service in enumerate(services):
        system, code, description, _unit = data.SERVICES[service]
        quantity = rng.choice((1, 1, 1, 2, 4)) if service in ("contrast", "ondansetron", "acetaminophen") else 1
        amounts = adjudicate(service, quantity, plan, first_in_visit=position == 0,
                             emergency=department == "Emergency", deductible_left=deductible_left)
        # Every row needs every column: an executemany takes its columns from the first row.
        row = {field: 0 for field in AMOUNT_FIELDS} | {"allowed": None} | amounts
        rows.append(row | {"position": position, "service_date": start, "code_system": system, "code": code,
                           "description": description, "quantity": quantity})
    return rows


def _statement_rows(rng: random.Random, index: int, today: date, plan_key: str | None, patient_count: int
                    ) -> tuple[list[dict], list[list[dict]], list[list[list[dict]]]]:
    plan = data.PLANS[plan_key] if plan_key else None
    statements, visits, lines = [], [], []
    deductible_left = [rng.choice((0, 25000, 50000, 150000))]
    # Oldest first, a month or so apart, so that the deductible is used up in the order the care happened.
    for k in reversed(range(STATEMENTS_PER_ACCOUNT)):
        statement_date = today - timedelta(days=k * 30 + rng.randint(1, 20))
        statements.append({"number": str(800000000 + index * 10 + k), "statement_date": statement_date,
                           "due_date": statement_date + timedelta(days=30), "currency": "USD"})
        line_count = rng.randint(3, 12)
        visit_count = min(rng.randint(1, 4), line_count)
        # Each visit gets at least one line; the rest fall anywhere.
        per_visit = [1] * visit_count
        for _ in range(line_count - visit_count):
            per_visit[rng.randrange(visit_count)] += 1
        statement_visits, statement_lines = [], []
        for count in per_visit:
            department = rng.choice(list(DEPARTMENTS))
            start = statement_date - timedelta(days=rng.randint(5, 40))
            statement_visits.append({"patient": rng.randrange(patient_count), "visit_date": start,
                                     "end_date": None, "facility": rng.choice(FACILITIES),
                                     "department": department, "provider": rng.choice(PROVIDERS),
                                     "payer": plan.name if plan else None})
            statement_lines.append(_line_rows(rng, department, count, plan, start, deductible_left))
        visits.append(statement_visits)
        lines.append(statement_lines)
    return statements, visits, lines


def _chunk(rng: random.Random, first: int, last: int, organisation_id: int, today: date) -> Chunk:
    chunk = Chunk([], [], [], [], [], [])
    for index in range(first, last):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        locale = pick(rng, LOCALES)
        chunk.accounts.append({"organisation_id": organisation_id, "number": str(7000000 + index),
                               "guarantor_name": f"{given} {family}", "preferred_locale": locale,
                               "mailing_address": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}\n"
                                                  f"Springfield, IL 627{rng.randint(0, 99):02d}"})
        people = [(given, date(rng.randint(1940, 2000), rng.randint(1, 12), rng.randint(1, 28)))]
        people += [(rng.choice(GIVEN), date(rng.randint(2005, 2022), rng.randint(1, 12), rng.randint(1, 28)))
                   for _ in range(rng.choice((0, 0, 1, 2)))]
        chunk.patients.append([{"mrn": f"BL{index:05d}-{n}", "given_name": name, "family_name": family,
                                "birth_date": born} for n, (name, born) in enumerate(people)])
        plan = pick(rng, PLANS)
        chunk.plans.append(plan)
        statements, visits, lines = _statement_rows(rng, index, today, plan, len(people))
        chunk.statements.append(statements)
        chunk.visits.append(visits)
        chunk.lines.append(lines)
    return chunk


def _payment_rows(rng: random.Random, statement_id: int, statement: dict, lines: list[dict], today: date
                  ) -> list[dict]:
    """Most bills older than two months paid in full at the front desk; a fifth of the rest paid in part by card."""
    owed = sum(line["charge"] - line["insurance_paid"] - line["adjustment"] for line in lines)
    if owed <= 0:
        return []
    age = (today - statement["statement_date"]).days
    when = datetime.combine(statement["statement_date"] + timedelta(days=9), clock(18, 0), timezone.utc)
    # Every row has every column (an executemany takes its columns from the first row).
    row = {"statement_id": statement_id, "currency": "USD", "status": "succeeded", "created_at": when,
           "succeeded_at": when, "card_brand": None, "card_last4": None, "stripe_payment_intent_id": None}
    if age > 60 and rng.random() < 0.7:
        return [row | {"amount": owed, "method": "external"}]
    if owed > 2000 and rng.random() < 0.2:
        part = max(1000, owed * rng.choice((20, 25, 50)) // 100)
        return [row | {"amount": part, "method": "card", "card_brand": "visa", "card_last4": "4242",
                       "stripe_payment_intent_id": f"pi_bench_{statement_id}"}]
    return []


def _insert_ids(model: type[db.Model], rows: list[dict]) -> list[int]:
    """Bulk-insert ``rows`` into ``model``'s table; the new ids in the order of the rows."""
    table = model.__table__
    return list(db.session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))


def _write_chunk(rng: random.Random, chunk: Chunk, first: int, password_hash: str, today: date) -> None:
    account_ids = _insert_ids(Account, chunk.accounts)
    patient_ids = _insert_ids(Patient, [row | {"account_id": account_id}
                                        for account_id, rows in zip(account_ids, chunk.patients) for row in rows])
    statement_ids = _insert_ids(Statement, [row | {"account_id": account_id}
                                            for account_id, rows in zip(account_ids, chunk.statements)
                                            for row in rows])
    # Map each account's patient numbers and statements to their new ids, in insertion order.
    patients_of, statement_of = [], iter(statement_ids)
    patient_iter = iter(patient_ids)
    for rows in chunk.patients:
        patients_of.append([next(patient_iter) for _ in rows])
    visit_rows, visit_lines, payments = [], [], []
    for a, account_visits in enumerate(chunk.visits):
        for s, statement_visits in enumerate(account_visits):
            statement_id = next(statement_of)
            for v, visit in enumerate(statement_visits):
                visit_rows.append({key: value for key, value in visit.items() if key != "patient"}
                                  | {"statement_id": statement_id, "patient_id": patients_of[a][visit["patient"]]})
                visit_lines.append(chunk.lines[a][s][v])
            payments += _payment_rows(rng, statement_id, chunk.statements[a][s],
                                      [line for lines in chunk.lines[a][s] for line in lines], today)
    visit_ids = _insert_ids(Visit, visit_rows)
    db.session.execute(insert(LineItem.__table__), [line | {"visit_id": visit_id}
                                                    for visit_id, lines in zip(visit_ids, visit_lines)
                                                    for line in lines])
    if payments:
        db.session.execute(insert(Payment.__table__), payments)
    user_ids = _insert_ids(User, [{"email": login_email(first + n), "password_hash": password_hash,
                                   "role": "patient", "locale": account["preferred_locale"]}
                                  for n, account in enumerate(chunk.accounts)])
    db.session.execute(insert(UserAccount.__table__), [{"user_id": user_id, "account_id": account_id}
                                                       for user_id, account_id in zip(user_ids, account_ids)])


def generate(today: date) -> None:
    """Write the glossary, the organisation and every account's bills and login; the caller commits."""
    load_builtin_content()
    organisation = Organisation(**(data.ORGANISATION | {"slug": ORGANISATION_SLUG}))
    db.session.add(organisation)
    db.session.flush()
    # One hash for every login: argon2 is slow on purpose, and the benchmark signs in with one password.
    password_hash = hash_password(LOGIN_PASSWORD)
    rng = random.Random(SEED)
    for first in range(0, ACCOUNTS, CHUNK):
        last = min(ACCOUNTS, first + CHUNK)
        _write_chunk(rng, _chunk(rng, first, last, organisation.id, today), first, password_hash, today)


def ensure_data(url: str | None = None) -> tuple[Flask, Counts, float]:
    """The app on the benchmark database with its data, generated if missing; and the seconds that took."""
    url = url or database_url()
    started = time.perf_counter()
    if ensure_database(url):
        print(f"Created the database {make_url(url).database}.")
    app = create_app(bench_config(url))
    with app.app_context():
        flask_migrate.upgrade()
        found = counts()
        if found is not None and (found.accounts, found.statements) == (ACCOUNTS, ACCOUNTS * STATEMENTS_PER_ACCOUNT):
            return app, found, time.perf_counter() - started
        if found is not None:
            print("The benchmark data has another size: rebuilding the database's public schema.")
            db.session.remove()
            _rebuild_schema()
            flask_migrate.upgrade()
        print(f"Generating {ACCOUNTS:,} accounts and {ACCOUNTS * STATEMENTS_PER_ACCOUNT:,} statements ...")
        generate(date.today())
        db.session.commit()
        # Fresh planner statistics, as a database that has been in use for a while would have.
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        return app, counts(), time.perf_counter() - started


def main() -> None:
    _app, found, seconds = ensure_data()
    print(f"{found.accounts:,} accounts, {found.statements:,} statements, {found.visits:,} visits, "
          f"{found.lines:,} lines, {found.payments:,} payments, {found.logins:,} logins ({seconds:.1f} s).")


if __name__ == "__main__":
    main()
