"""Stripe's webhooks: signatures, events applied once (even from many workers at once), refunds and
disputes built from Stripe's own example objects, staff refunds, reconcile and the payments export."""
from __future__ import annotations

import copy
import csv
import io
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portal.billing.services import organisation_today, summary_for
from portal.extensions import db
from portal.payments.models import Payment, StripeEvent

from .conftest import sign_webhook
from .payflow import events_for, pay, stand_in

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe" / "fixtures.json").read_text())


def stripe_event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    """Stripe's example event envelope around ``obj``, as Stripe would send it now."""
    event = copy.deepcopy(FIXTURES["event"])
    event.update(id=event_id or f"evt_test_{time.monotonic_ns()}", type=event_type, created=int(time.time()),
                 data={"object": obj})
    return event


def refunded_charge(payment: Payment, refunds: list[tuple[str, int]], *, with_list: bool = True) -> dict:
    """Stripe's example charge, made into the charge of ``payment`` with these (refund id, amount) refunds."""
    charge = copy.deepcopy(FIXTURES["charge"])
    charge.update(id=payment.stripe_charge_id or "ch_test_example", payment_intent=payment.stripe_payment_intent_id,
                  created=int(time.time()),
                  amount=payment.amount, amount_captured=payment.amount, currency=payment.currency.lower(),
                  status="succeeded", paid=True, captured=True,
                  amount_refunded=sum(amount for _id, amount in refunds),
                  refunded=sum(amount for _id, amount in refunds) == payment.amount)
    items = []
    for refund_id, amount in refunds:
        refund = copy.deepcopy(FIXTURES["refund"])
        refund.update(id=refund_id, amount=amount, charge=charge["id"], payment_intent=payment.stripe_payment_intent_id)
        items.append(refund)
    if with_list:
        charge["refunds"] = {"object": "list", "data": items, "has_more": False,
                             "url": f"/v1/charges/{charge['id']}/refunds"}
    else:
        charge.pop("refunds", None)
    return charge



@pytest.fixture
def paid(client, login_as, household, localstripe, deliver):
    """A $50.00 card payment on a $90.00 statement, posted by the stand-in's own webhook event."""
    user, statement = household
    login_as(user)
    payment, _response = pay(client, localstripe, statement.number, "50.00")
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    assert deliver(event).status_code == 200
    db.session.expire_all()
    assert payment.status == "succeeded"
    return payment


def _events() -> int:
    return db.session.scalar(db.select(db.func.count(StripeEvent.id)))


# ------------------------------------------------------------------------------------------- signatures

def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(client, paid, deliver):
    before = _events()
    event = stripe_event("payment_intent.succeeded", {"id": paid.stripe_payment_intent_id})
    body = json.dumps(event).encode()
    assert deliver(event, signature=sign_webhook(body, secret="whsec_someone_else")).status_code == 400
    assert deliver(event, signature=sign_webhook(body, timestamp=int(time.time()) - 3600)).status_code == 400
    assert deliver(event, signature="t=1,v1=00").status_code == 400
    assert client.post("/stripe/webhook", data=body, content_type="application/json").status_code == 400
    assert client.post("/stripe/webhook", data=b"not json", content_type="application/json",
                       headers={"Stripe-Signature": sign_webhook(b"not json")}).status_code == 400
    assert _events() == before


def test_events_we_do_not_handle_are_acknowledged_and_ignored(deliver):
    assert deliver(stripe_event("plan.created", FIXTURES["event"]["data"]["object"])).status_code == 200
    row = db.session.scalar(db.select(StripeEvent))
    assert row.type == "plan.created" and row.processed_at is not None and row.review_reason is None


def test_an_event_for_an_unknown_payment_intent_is_kept_for_staff_review(client, deliver, make, login_as):
    intent = copy.deepcopy(FIXTURES["payment_intent"])
    intent.update(id="pi_not_ours", status="succeeded", amount=1234)
    assert deliver(stripe_event("payment_intent.succeeded", intent)).status_code == 200
    row = db.session.scalar(db.select(StripeEvent))
    assert "pi_not_ours" in row.review_reason
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0
    login_as(make.user("clerk@example.org", role="staff"))
    page = client.get("/staff/payments/review").get_data(as_text=True)
    assert "pi_not_ours" in page
    from .conftest import csrf_token

    token = csrf_token(client, "/staff/payments/review")
    assert client.post(f"/staff/payments/review/{row.id}", data={"csrf_token": token}).status_code == 302
    assert "pi_not_ours" not in client.get("/staff/payments/review").get_data(as_text=True)


def test_a_success_for_a_different_amount_is_not_posted(paid, deliver, household):
    # A second, pending payment whose PaymentIntent Stripe reports with another amount.
    intent = {"id": "pi_other_amount", "object": "payment_intent", "status": "succeeded", "amount": 99,
              "currency": "usd", "metadata": {"portal_payment": "unknown"}}
    deliver(stripe_event("payment_intent.succeeded", intent))
    assert summary_for(household[1]).amount_due.minor == 4000


# ----------------------------------------------------------------------------------- refunds and disputes

def test_a_refund_from_stripe_raises_the_balance_once(paid, deliver, household):
    statement = household[1]
    event = stripe_event("charge.refunded", refunded_charge(paid, [("re_one", 2000)]))
    assert deliver(event).status_code == 200
    assert deliver(event).get_json()["duplicate"] is True
    # The same refund in a later event (a second refund added) is still counted once.
    later = stripe_event("charge.refunded", refunded_charge(paid, [("re_two", 3000), ("re_one", 2000)]))
    assert deliver(later).status_code == 200
    db.session.expire_all()
    assert paid.amount_refunded == 5000 and paid.status == "refunded"
    assert sorted(r.stripe_refund_id for r in paid.refunds) == ["re_one", "re_two"]
    assert summary_for(statement).amount_due.minor == 9000


def test_a_refund_that_arrives_before_the_success_posts_both(client, login_as, household, localstripe, deliver):
    user, statement = household
    login_as(user)
    payment, _response = pay(client, localstripe, statement.number, "50.00")
    assert payment.status == "pending"
    deliver(stripe_event("charge.refunded", refunded_charge(payment, [("re_early", 1000)])))
    db.session.expire_all()
    assert payment.status == "partially_refunded" and payment.amount_refunded == 1000
    # The success that was late changes nothing more.
    [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    deliver(event)
    db.session.expire_all()
    assert payment.status == "partially_refunded"
    assert summary_for(statement).amount_due.minor == 9000 - 5000 + 1000


def test_a_refund_event_without_its_refund_list_asks_stripe(paid, deliver, localstripe):
    status, refund = stand_in(localstripe, "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id,
                                                           "amount": 700}, secret_key=True)
    assert status == 200
    paid.stripe_charge_id = refund["charge"]
    db.session.commit()
    deliver(stripe_event("charge.refunded", refunded_charge(paid, [(refund["id"], 700)], with_list=False)))
    db.session.expire_all()
    assert [r.stripe_refund_id for r in paid.refunds] == [refund["id"]] and paid.amount_refunded == 700


def test_a_dispute_flags_the_statement_for_staff(client, paid, deliver, make, login_as, household):
    dispute = copy.deepcopy(FIXTURES["dispute"])
    dispute.update(payment_intent=paid.stripe_payment_intent_id, amount=paid.amount, reason="fraudulent")
    assert deliver(stripe_event("charge.dispute.created", dispute)).status_code == 200
    db.session.expire_all()
    assert paid.disputed_at is not None and paid.dispute_reason == "fraudulent"
    from .conftest import csrf_token

    client.post("/logout", data={"csrf_token": csrf_token(client, "/statements")})
    login_as(make.user("boss@example.org", role="supervisor"))
    assert household[1].number in client.get("/staff/payments/review").get_data(as_text=True)
    assert "Disputed" in client.get(f"/statements/{household[1].number}").get_data(as_text=True)


def test_a_supervisor_refunds_part_of_a_payment_once(client, paid, make, login_as, household, localstripe, deliver):
    from .conftest import csrf_token

    statement = household[1]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/statements")})
    staff = make.user("clerk@example.org", role="staff")
    login_as(staff)
    assert client.get(f"/staff/payments/{paid.public_id}/refund").status_code == 404  # supervisors only
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/statements")})
    login_as(make.user("boss@example.org", role="supervisor"))
    url = f"/staff/payments/{paid.public_id}/refund"
    assert "Refund" in client.get(f"/statements/{statement.number}").get_data(as_text=True)
    # The receipt's payment reference, read out by the patient on the phone, finds the statement.
    assert f"Statement {statement.number}" in client.get(
        "/staff/statements", query_string={"q": paid.public_id}).get_data(as_text=True)
    assert 'value="$50.00"' in client.get(f"/staff/payments/{paid.public_id}/refund").get_data(as_text=True)
    form = {"amount": "60.00", "reason": "Billed twice", "attempt": "r" * 24, "csrf_token": csrf_token(client, url)}
    too_much = client.post(url, data=form)
    assert too_much.status_code == 400 and "You can refund up to $50.00" in too_much.get_data(as_text=True)
    form.update(amount="15.00")
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data=form).status_code == 302  # the same form again: no second refund
    db.session.expire_all()
    assert paid.amount_refunded == 1500 and paid.status == "partially_refunded"
    [refund] = paid.refunds
    assert refund.reason == "Billed twice" and refund.created_by_user_id is not None
    # Stripe's later charge.refunded for the same refund changes nothing.
    _status, charge = stand_in(localstripe, f"/v1/charges/{refund.payment.stripe_charge_id}", secret_key=True)
    charge["refunds"] = {"object": "list", "data": charge["refunds"]["data"], "has_more": False}
    deliver(stripe_event("charge.refunded", charge))
    db.session.expire_all()
    assert paid.amount_refunded == 1500 and len(paid.refunds) == 1
    assert summary_for(statement).amount_due.minor == 9000 - 5000 + 1500
    _status, at_stripe = stand_in(localstripe, f"/v1/refunds?charge={charge['id']}", secret_key=True)
    assert [r["amount"] for r in at_stripe["data"]] == [1500]


# --------------------------------------------------------------------------------------- many workers

def test_one_event_from_many_workers_at_once_posts_the_payment_once(
        live_server, make, localstripe, app):
    """Sixteen workers deliver the same event at the same moment, and four more deliver copies under new
    event ids (as reconcile and the return page might): the payment is posted once."""
    account = make.account()
    statement = make.statement(account, lines=3)
    make.user(accounts=[account])
    client = live_server.app.test_client()
    from .conftest import csrf_token

    client.post("/login", data={"email": "pat@example.org", "password": "correct horse battery",
                                "csrf_token": csrf_token(client, "/login")})
    # Keep the stand-in's own delivery away, so that only the workers below deliver.
    urllib.request.urlopen(urllib.request.Request(
        f"{localstripe}/_config/webhooks/portal", data=b"url=http://127.0.0.1:9/&secret=x"), timeout=5)
    with live_server.app.app_context():
        payment, _response = pay(client, localstripe, statement.number, "45.00")
        payment_id = payment.id
        [event] = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    copies = [event] * 16 + [dict(event, id=f"{event['id']}_copy{n}") for n in range(4)]
    barrier = threading.Barrier(len(copies))
    results: list[int] = []

    def worker(one: dict) -> None:
        body = json.dumps(one).encode()
        request = urllib.request.Request(f"{live_server.url}/stripe/webhook", data=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": sign_webhook(body)})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                results.append(response.status)
        except urllib.error.HTTPError as error:
            results.append(error.code)

    threads = [threading.Thread(target=worker, args=(one,)) for one in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    payment = db.session.get(Payment, payment_id)
    if db.engine.dialect.name == "postgresql":
        assert results == [200] * len(copies)
    else:
        # SQLite has one writer at a time: a worker that waits too long answers 503 and Stripe sends again.
        assert set(results) <= {200, 503} and 200 in results
    assert payment.status == "succeeded"
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id)).where(StripeEvent.event_id == event["id"])) == 1
    assert summary_for(statement).amount_due.minor == 9000 - 4500


# ---------------------------------------------------------------------------------- reconcile, export

def test_reconcile_posts_what_a_lost_webhook_missed_and_is_safe_to_repeat(client, login_as, household, localstripe,
                                                                          runner):
    user, statement = household
    login_as(user)
    payment, _response = pay(client, localstripe, statement.number, "12.34")
    assert payment.status == "pending"
    result = runner.invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"Posted 12.34 USD on statement {statement.number}" in result.output
    db.session.expire_all()
    assert payment.status == "succeeded" and summary_for(statement).amount_due.minor == 9000 - 1234
    # Posted late, but dated when the card was charged, as Stripe recorded it.
    _status, intent = stand_in(localstripe, f"/v1/payment_intents/{payment.stripe_payment_intent_id}",
                               secret_key=True)
    charged = datetime.fromtimestamp(intent["latest_charge"]["created"], timezone.utc)
    assert payment.succeeded_at.replace(tzinfo=timezone.utc) == charged
    # --since is a day on the hospital's calendar, which is not the machine's just after midnight UTC.
    today = organisation_today(statement.account.organisation).isoformat()
    again = runner.invoke(args=["payments", "reconcile", "--since", today])
    assert again.exit_code == 0 and "Nothing to post" in again.output
    assert summary_for(statement).amount_due.minor == 9000 - 1234


def test_reconcile_says_so_when_stripe_is_unreachable(make_app):
    app = make_app(STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_TIMEOUT=1)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 1 and "nothing changed" in result.output


def test_the_days_payments_and_refunds_export_for_posting(paid, deliver, runner, household, make):
    statement = household[1]
    deliver(stripe_event("charge.refunded", refunded_charge(paid, [("re_export", 500)])))
    make.payment(statement, 100, method="external", succeeded_at=datetime(2020, 1, 1, tzinfo=timezone.utc))
    # Taken by the billing office and already in its own system: never exported back.
    make.payment(statement, 200, method="external", succeeded_at=datetime.now(timezone.utc))
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    result = runner.invoke(args=["payments", "export", "--date", today])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["type"], r["amount"], r["amount_minor"], r["stripe_id"]) for r in rows] == [
        ("payment", "50.00", "5000", paid.stripe_payment_intent_id), ("refund", "-5.00", "-500", "re_export")]
    assert rows[0]["statement"] == statement.number and rows[0]["account"] == statement.account.number
    assert rows[0]["currency"] == "USD" and rows[0]["posted_at"].startswith(today)
    as_json = runner.invoke(args=["payments", "export", "--date", today, "--format", "json"])
    assert [r["amount_minor"] for r in json.loads(as_json.output)] == [5000, -500]
    assert runner.invoke(args=["payments", "export", "--date", "2020-13-01"]).exit_code == 2
    assert list(csv.DictReader(io.StringIO(runner.invoke(args=["payments", "export", "--date",
                                                               "2019-06-01"]).output))) == []


FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def test_the_days_export_as_a_fhir_bundle_of_payment_reconciliations(paid, deliver, runner, household, make):
    statement = household[1]
    deliver(stripe_event("charge.refunded", refunded_charge(paid, [("re_export", 500)])))
    # Taken by the billing office and already in its own system: not in the Bundle either.
    make.payment(statement, 200, method="external", succeeded_at=datetime.now(timezone.utc))
    today = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["payments", "export", "--date", today]).output)))
    result = runner.invoke(args=["payments", "export", "--date", today, "--format", "fhir"])
    assert result.exit_code == 0, result.output
    # Amounts read back as exact decimals, never through binary floats.
    bundle = json.loads(result.output, parse_float=Decimal)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert FHIR_ID.fullmatch(bundle["id"]) and bundle["identifier"]["value"] == f"test-hospital-{today}"
    resources = [entry["resource"] for entry in bundle["entry"]]
    assert len(resources) == len(rows) == 2
    for resource, row in zip(resources, rows):
        assert resource["resourceType"] == "PaymentReconciliation" and FHIR_ID.fullmatch(resource["id"])
        # R4's required elements, and what the billing system posts by.
        assert resource["status"] == "active" and resource["outcome"] == "complete"
        assert resource["created"] == row["posted_at"] and datetime.fromisoformat(resource["created"]).utcoffset()
        assert resource["paymentDate"] == today
        assert resource["paymentAmount"] == {"value": Decimal(row["amount"]), "currency": row["currency"]}
        assert row["currency"] == "USD"
        assert all(i["system"].startswith("urn:patient-billing-portal:") and i["value"] for i in resource["identifier"])
        assert resource["paymentIdentifier"]["value"] == row["stripe_id"]
        [detail] = resource["detail"]
        assert detail["request"]["identifier"] == {"system": "urn:patient-billing-portal:statement",
                                                   "value": statement.number}
        assert detail["extension"][0]["valueReference"]["identifier"] == {
            "system": "urn:patient-billing-portal:account", "value": statement.account.number}
        assert detail["amount"] == resource["paymentAmount"] and detail["date"] == today
        assert detail["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/payment-type"
    payment, refund = resources
    assert payment["paymentAmount"]["value"] == Decimal("50.00") and '"value": 50.00,' in result.output
    assert {"system": "urn:patient-billing-portal:payment", "value": paid.public_id, "use": "official"} in \
        payment["identifier"]
    assert {"system": "urn:patient-billing-portal:stripe-payment-intent", "value": paid.stripe_payment_intent_id,
            "use": "secondary"} in payment["identifier"]
    assert payment["detail"][0]["type"]["coding"][0]["code"] == "payment"
    assert payment["disposition"] == "Card payment through the patient portal"
    assert payment["detail"][0]["payee"]["display"] == "Test General Hospital"
    assert refund["paymentAmount"]["value"] == Decimal("-5.00") < 0
    assert refund["identifier"] == [{"system": "urn:patient-billing-portal:stripe-refund", "value": "re_export",
                                     "use": "official"}]
    assert refund["id"] == "refund-re.export" and refund["disposition"] == "Refund through the patient portal"
    assert refund["detail"][0]["type"]["coding"][0]["code"] == "adjustment"
    assert refund["detail"][0]["predecessor"] == {"system": "urn:patient-billing-portal:payment",
                                                  "value": paid.public_id}
    # The same day exported again is the same Bundle, ids and all.
    assert runner.invoke(args=["payments", "export", "--date", today, "--format", "fhir"]).output == result.output
    empty = json.loads(runner.invoke(args=["payments", "export", "--date", "2019-06-01", "--format", "fhir"]).output)
    assert empty["type"] == "collection" and "entry" not in empty


def test_fhir_amounts_are_written_exactly_and_ids_stay_valid():
    from portal.imports.payment_reconciliation import fhir_id, money, to_json
    from portal.money import Money

    assert to_json([money(Money(1234, "USD")), money(Money(-1, "USD")), money(Money(5000, "JPY")),
                    money(Money(1005, "KWD")), money(Money(5000, "USD"))]) == \
        '[{"value": 12.34, "currency": "USD"}, {"value": -0.01, "currency": "USD"}, ' \
        '{"value": 5000, "currency": "JPY"}, {"value": 1.005, "currency": "KWD"}, {"value": 50.00, "currency": "USD"}]'
    assert to_json(money(Money(999_999_999_999_99, "USD"))) == '{"value": 999999999999.99, "currency": "USD"}'
    # Text that merely looks like the marker stays text.
    assert json.loads(to_json({"note": "__decimal__1__"})) == {"note": "__decimal__1__"}
    assert fhir_id("payment", "ab_cd") != fhir_id("payment", "ab-cd")
    assert FHIR_ID.fullmatch(fhir_id("payment", "x" * 80)) and FHIR_ID.fullmatch(fhir_id("payment", "a b/c"))


def test_a_refund_of_a_payment_stripe_does_not_know_says_so(client, make, login_as, household):
    from .conftest import csrf_token

    statement = household[1]
    payment = make.payment(statement, 2000, stripe_payment_intent_id="pi_from_other_keys", card_last4="4242")
    login_as(make.user("boss@example.org", role="supervisor"))
    url = f"/staff/payments/{payment.public_id}/refund"
    response = client.post(url, data={"amount": "5.00", "reason": "Goodwill", "attempt": "s" * 24,
                                      "csrf_token": csrf_token(client, url)})
    assert response.status_code == 400 and "Stripe has no record of this payment" in response.get_data(as_text=True)
    db.session.expire_all()
    assert payment.amount_refunded == 0 and payment.refunds == []
