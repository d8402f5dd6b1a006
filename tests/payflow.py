"""Paying through the app as a browser does, against the local Stripe stand-in.

What the stand-in's Stripe.js would do in the browser (send the card to Stripe with the publishable key)
is done here over HTTP, so that the card never reaches the portal in the tests either.
"""
from __future__ import annotations

import json
import re
import secrets
import urllib.parse
import urllib.request

from portal.extensions import db
from portal.payments.models import Payment

from .conftest import STRIPE_KEYS, csrf_token

GOOD_CARD = "4242424242424242"
DECLINED_AT_SETUP = "4000000000000002"
DECLINED_AT_CHARGE = "4000000000000341"
NEEDS_3DS = "4000002760003184"

_SECRET = re.compile(r'data-client-secret="([^"]+)"')
_MODE = re.compile(r'data-mode="([^"]+)"')


def stand_in(base: str, path: str, body: dict | None = None, *, secret_key: bool = False,
             method: str | None = None) -> tuple[int, dict]:
    """Call the stand-in directly: as Stripe.js does (publishable key in the body), or with the secret key."""
    data = json.dumps({"key": STRIPE_KEYS["STRIPE_PUBLISHABLE_KEY"], **(body or {})}).encode() if body is not None \
        else None
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"))
    if secret_key:
        request.add_header("Authorization", "Bearer " + STRIPE_KEYS["STRIPE_SECRET_KEY"])
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def set_up_card(base: str, client_secret: str, number: str) -> tuple[int, dict]:
    """What ``stripe.confirmCardSetup`` sends from the browser, completing 3-D Secure when the card asks."""
    setup_intent = client_secret.split("_secret_")[0]
    status, body = stand_in(base, f"/v1/setup_intents/{setup_intent}/confirm", {
        "use_stripe_sdk": True, "client_secret": client_secret,
        "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2030",
                                                         "cvc": "123"},
                                "billing_details": {"address": {"postal_code": "12345"}}}})
    if status == 200 and body.get("status") == "requires_action":
        status, body = stand_in(base, f"/v1/setup_intents/{setup_intent}/confirm",
                                {"use_stripe_sdk": True, "client_secret": client_secret})
    return status, body


def authenticate(base: str, client_secret: str, success: bool) -> tuple[int, dict]:
    """What ``stripe.confirmCardPayment`` does after the stand-in's 3-D Secure dialog."""
    intent = client_secret.split("_secret_")[0]
    return stand_in(base, f"/v1/payment_intents/{intent}/_authenticate?success={'true' if success else 'false'}",
                    {"client_secret": client_secret})


def events_for(base: str, object_id: str, event_type: str) -> list[dict]:
    """The events the stand-in made about ``object_id`` (the ones it sends to the webhook)."""
    query = urllib.parse.urlencode({"type": event_type, "limit": 100})
    _status, page = stand_in(base, f"/v1/events?{query}", secret_key=True)
    return [event for event in page["data"] if event["data"]["object"].get("id") == object_id]


def start(client, number: str, amount: str | None = None, email: str = "", attempt: str | None = None) -> Payment:
    """Fill in the pay form; return the pending payment it started."""
    fields = {"choice": "other" if amount else "full", "other_amount": amount or "", "receipt_email": email,
              "attempt": attempt or secrets.token_urlsafe(24),
              "csrf_token": csrf_token(client, f"/statements/{number}/pay")}
    response = client.post(f"/statements/{number}/pay", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    public_id = response.headers["Location"].split("/payments/")[1].split("/")[0]
    return db.session.scalar(db.select(Payment).where(Payment.public_id == public_id))


def card_page(client, payment: Payment) -> tuple[str, str, str]:
    """Open the card page; return its HTML, its client secret and its mode."""
    page = client.get(f"/payments/{payment.public_id}/card")
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    return html, _SECRET.search(html).group(1), _MODE.search(html).group(1)


def submit_card(client, payment: Payment, setup_intent: str):
    token = csrf_token(client, f"/payments/{payment.public_id}/card")
    return client.post(f"/payments/{payment.public_id}/card", data={"setup_intent": setup_intent,
                                                                     "csrf_token": token})


def pay(client, base: str, number: str, amount: str | None = None, card: str = GOOD_CARD, email: str = ""):
    """Start a payment and send the card; return the payment and the response to the card form."""
    payment = start(client, number, amount, email)
    _html, secret, _mode = card_page(client, payment)
    status, setup = set_up_card(base, secret, card)
    assert status == 200, setup
    response = submit_card(client, payment, setup["id"])
    db.session.expire_all()
    return payment, response
