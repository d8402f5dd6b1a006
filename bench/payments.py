"""Benchmark card payments: starting a payment, charging the card, and posting Stripe's webhooks.

Runs the real app (Flask test client) against the local Stripe stand-in on a fresh database: a temporary
SQLite file, or PostgreSQL when PORTAL_BENCH_DATABASE_URL is set (its public schema is rebuilt). Prints
figures; asserts nothing about speed. Usage: ``make bench`` or ``.venv/bin/python bench/payments.py [N]``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta

from common import free_port, fresh_app  # bench/ is on the path


from portal.auth.models import User, UserAccount  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.billing.models import Account, LineItem, Organisation, Patient, Statement, Visit  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.payments.models import Payment  # noqa: E402

KEYS = {"STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench"}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')




def start_stand_in() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the Stripe stand-in did not start")


def stand_in_post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(base + path, data=json.dumps({"key": KEYS["STRIPE_PUBLISHABLE_KEY"],
                                                                   **body}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def stand_in_events(base: str) -> list[dict]:
    request = urllib.request.Request(base + "/v1/events?type=payment_intent.succeeded&limit=100000")
    request.add_header("Authorization", "Bearer " + KEYS["STRIPE_SECRET_KEY"])
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    t = int(time.time())
    digest = hmac.new(KEYS["STRIPE_WEBHOOK_SECRET"].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={digest}"


def seed(count: int) -> list[str]:
    """``count`` households, each with a login and a one-line $100.00 self-pay statement."""
    org = Organisation(slug="bench", name="Bench Hospital", address="1 Way", phone="+1 555-0100", currency="USD",
                       time_zone="America/Chicago")
    db.session.add(org)
    password = hash_password("bench password 1")
    numbers = []
    for n in range(count):
        account = Account(organisation=org, number=f"9{n:07d}", guarantor_name=f"Guarantor {n}",
                          mailing_address="2 Street")
        patient = Patient(account=account, mrn=f"B{n}", given_name="Pat", family_name=f"Bench{n}",
                          birth_date=date(1980, 1, 1))
        statement = Statement(account=account, number=f"8{n:08d}", statement_date=date.today(),
                              due_date=date.today() + timedelta(days=30), currency="USD")
        visit = Visit(statement=statement, patient=patient, visit_date=date.today(), facility="Main",
                      department="Clinic", provider="Dr. Bench", payer=None)
        visit.lines.append(LineItem(service_date=date.today(), code_system="cpt", code="99213", description="VISIT",
                                    charge=10000, allowed=None))
        user = User(email=f"bench{n}@example.org", password_hash=password, role="patient", locale="en")
        db.session.add_all([account, patient, statement, visit, user])
        db.session.flush()
        db.session.add(UserAccount(user_id=user.id, account_id=account.id))
        numbers.append(statement.number)
    db.session.commit()
    return numbers


def timed(samples: list[float], function, *args, **kwargs):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = function(*args, **kwargs)
    samples.append((time.perf_counter() - started) * 1000)
    return result


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"  {label:<50} median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ordered)})")


def main(count: int) -> None:
    database_url = os.environ.get("PORTAL_BENCH_DATABASE_URL")
    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    database_url = database_url or f"sqlite:///{workdir}/bench.sqlite3"
    process, base = start_stand_in()
    try:
        app = fresh_app(workdir, TESTING=True, STRIPE_API_BASE=base, STRIPE_JS_URL=base + "/js.stripe.com/v3/",
                        **KEYS)
        with app.app_context():
            numbers = seed(count)
        print(f"Card payments: {count} patients, database {database_url.split(':')[0]}, "
              f"Stripe stand-in at {base}")
        start_ms, card_page_ms, confirm_ms, webhook_ms, duplicate_ms = [], [], [], [], []
        for n, number in enumerate(numbers):
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            client.post("/login", data={"email": f"bench{n}@example.org", "password": "bench password 1",
                                        "csrf_token": CSRF.search(page).group(1)})
            page = client.get(f"/statements/{number}/pay").get_data(as_text=True)
            response = timed(start_ms, client.post, f"/statements/{number}/pay", data={
                "choice": "full", "attempt": f"bench-attempt-{n:08d}-xxxxxxxx", "csrf_token": CSRF.search(page).group(1)})
            card_url = response.headers["Location"]
            page = timed(card_page_ms, client.get, card_url).get_data(as_text=True)
            secret = re.search(r'data-client-secret="([^"]+)"', page).group(1)
            setup = stand_in_post(base, f"/v1/setup_intents/{secret.split('_secret_')[0]}/confirm", {
                "use_stripe_sdk": True, "client_secret": secret,
                "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": "12",
                                                                 "exp_year": "2030", "cvc": "123"}}})
            timed(confirm_ms, client.post, card_url, data={"setup_intent": setup["id"],
                                                           "csrf_token": CSRF.search(page).group(1)})
        events = stand_in_events(base)
        client = app.test_client()
        for event in events:
            body, signature = signed(event)
            headers = {"Stripe-Signature": signature}
            timed(webhook_ms, client.post, "/stripe/webhook", data=body, content_type="application/json",
                  headers=headers)
            timed(duplicate_ms, client.post, "/stripe/webhook", data=body, content_type="application/json",
                  headers=headers)
        report("pay form: record payment, Customer, PaymentIntent", start_ms)
        report("card page: SetupIntent for Stripe.js", card_page_ms)
        report("card form: read SetupIntent, confirm charge", confirm_ms)
        report("webhook: verify, store event, post payment", webhook_ms)
        report("webhook: the same event again", duplicate_ms)
        with app.app_context():
            posted = db.session.scalar(db.select(db.func.count(Payment.id)).where(Payment.status == "succeeded"))
        print(f"  posted {posted} of {count} payments from {len(events)} events; "
              f"webhook throughput {1000 / statistics.median(webhook_ms):.0f} events/s on one worker")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
