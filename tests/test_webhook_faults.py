"""Payments under concurrency and faults: a storm of webhook deliveries from fifty workers at once, duplicated
and out of order, and a worker that dies between asking Stripe and committing. Every payment and refund is
posted exactly once and every balance is right to the cent, on SQLite and on PostgreSQL."""
from __future__ import annotations

import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from portal.billing.services import summary_for
from portal.extensions import db
from portal.payments import services as payment_services
from portal.payments.models import Payment, Refund, StripeEvent

from .conftest import csrf_token, sign_webhook
from .payflow import events_for, pay
from .test_stripe_events import refunded_charge, stripe_event

THREADS = 50


def _post_until_taken(url: str, event: dict, answers: list[int]) -> None:
    """Deliver as Stripe does: anything but a 2xx is tried again after a pause (SQLite's single writer can
    answer 503 to a worker that waited too long)."""
    body = json.dumps(event).encode()
    for attempt in range(30):
        request = urllib.request.Request(f"{url}/stripe/webhook", data=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": sign_webhook(body)})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(response.status)
                return
        except urllib.error.HTTPError as error:
            answers.append(error.code)
        time.sleep(0.05 * (attempt + 1))


def test_fifty_workers_deliver_duplicated_and_out_of_order_events_and_each_payment_posts_once(
        live_server, make, localstripe, app):
    """Eight payments on four statements, three of them partly refunded. Every event is delivered several
    times, some under a second event id (as Stripe's retries and reconcile can), refunds often before the
    success they follow, all shuffled over fifty threads released at the same moment."""
    accounts = [make.account(f"Guarantor {n}") for n in range(4)]
    statements = [make.statement(account, lines=3) for account in accounts]  # $90.00 each
    make.user(accounts=accounts)
    # Keep the stand-in's own delivery away, so that only the workers below deliver.
    urllib.request.urlopen(urllib.request.Request(
        f"{localstripe}/_config/webhooks/portal", data=b"url=http://127.0.0.1:9/&secret=x"), timeout=5)
    client = live_server.app.test_client()
    client.post("/login", data={"email": "pat@example.org", "password": "correct horse battery",
                                "csrf_token": csrf_token(client, "/login")})
    amounts = ["20.00", "15.50"]
    deliveries: list[dict] = []
    expected_refunds: dict[int, int] = {}
    payment_ids: list[int] = []
    with live_server.app.app_context():
        for s, statement in enumerate(statements):
            for a, amount in enumerate(amounts):
                payment, _response = pay(client, localstripe, statement.number, amount)
                [succeeded] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
                payment_ids.append(payment.id)
                deliveries += [succeeded] * 4 + [dict(succeeded, id=f"{succeeded['id']}_again")] * 2
                if (s + a) % 3 == 0:
                    # The charge as Stripe reports it once refunded (its id comes with the success, which
                    # may not have been posted when the refund arrives).
                    charge = succeeded["data"]["object"].get("latest_charge")
                    charged = SimpleNamespace(stripe_charge_id=charge["id"] if isinstance(charge, dict) else charge,
                                              stripe_payment_intent_id=payment.stripe_payment_intent_id,
                                              amount=payment.amount, currency=payment.currency)
                    refund = stripe_event("charge.refunded", refunded_charge(charged, [(f"re_storm_{payment.id}", 500)]),
                                          event_id=f"evt_refund_{payment.id}")
                    deliveries += [refund] * 3
                    expected_refunds[payment.id] = 500
        db.session.rollback()
    random.Random(20261203).shuffle(deliveries)
    work: queue.Queue = queue.Queue()
    for delivery in deliveries:
        work.put(delivery)
    barrier = threading.Barrier(THREADS)
    answers: list[int] = []

    def worker() -> None:
        barrier.wait()
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            _post_until_taken(live_server.url, event, answers)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    db.session.expire_all()
    assert answers.count(200) == len(deliveries) and set(answers) <= {200, 503}
    if db.engine.dialect.name == "postgresql":
        assert set(answers) == {200}  # row locks, not a single writer: nobody waits long enough to give up
    distinct_events = {event["id"] for event in deliveries}
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) == len(distinct_events)
    for payment_id in payment_ids:
        payment = db.session.get(Payment, payment_id)
        assert payment.succeeded_at is not None, payment.status
        assert payment.amount_refunded == expected_refunds.get(payment_id, 0)
        assert payment.status == ("partially_refunded" if payment_id in expected_refunds else "succeeded")
        assert len(payment.refunds) == (1 if payment_id in expected_refunds else 0)
    assert db.session.scalar(db.select(db.func.count(Refund.id))) == len(expected_refunds)
    refunded = sum(expected_refunds.values())
    dues = sum(summary_for(statement).amount_due.minor for statement in statements)
    assert dues == 4 * 9000 - 4 * (2000 + 1550) + refunded


class WorkerKilled(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way out handles it."""


@pytest.fixture
def crash_before_commit(monkeypatch):
    """The webhook's worker dies after the event was applied (Stripe asked for the card's details) and before
    its transaction commits: the transaction is lost with the connection."""
    real = payment_services.record_event
    crashes: list[str] = []

    def record_then_die(event):
        real(event)
        crashes.append(event["id"])
        db.session.rollback()  # what the database does with a dead client's open transaction
        raise WorkerKilled

    monkeypatch.setattr(payment_services, "record_event", record_then_die)
    return crashes


def _deliver_to_a_dying_worker(deliver, event) -> None:
    with pytest.raises(WorkerKilled):
        deliver(event)


def test_a_worker_killed_before_commit_loses_nothing_and_the_redelivery_posts_once(
        client, login_as, household, localstripe, deliver, crash_before_commit, monkeypatch):
    user, statement = household
    login_as(user)
    payment, _response = pay(client, localstripe, statement.number, "30.00")
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")

    _deliver_to_a_dying_worker(deliver, event)
    assert crash_before_commit == [event["id"]]
    db.session.expire_all()
    assert payment.status == "pending" and payment.succeeded_at is None
    assert not payment_services.event_received(event["id"])
    assert summary_for(statement).amount_due.minor == 9000

    monkeypatch.undo()  # a healthy worker; Stripe delivers the event again, then once more
    assert deliver(event).status_code == 200
    assert deliver(event).get_json()["duplicate"] is True
    db.session.expire_all()
    assert payment.status == "succeeded" and payment.card_last4 == "4242"
    assert summary_for(statement).amount_due.minor == 9000 - 3000


def test_a_payment_whose_webhook_died_and_never_came_back_is_posted_by_reconcile_once(
        client, login_as, household, localstripe, deliver, crash_before_commit, monkeypatch, runner):
    user, statement = household
    login_as(user)
    payment, _response = pay(client, localstripe, statement.number, "12.34")
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    _deliver_to_a_dying_worker(deliver, event)
    monkeypatch.undo()

    result = runner.invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"Posted 12.34 USD on statement {statement.number}" in result.output
    # Stripe's redelivery arrives after all: taken, and nothing is posted twice.
    assert deliver(event).status_code == 200
    assert runner.invoke(args=["payments", "reconcile"]).output.count("Posted") == 0
    db.session.expire_all()
    assert payment.status == "succeeded"
    assert db.session.scalar(db.select(db.func.count(Payment.id)).where(Payment.status == "succeeded")) == 1
    assert summary_for(statement).amount_due.minor == 9000 - 1234
