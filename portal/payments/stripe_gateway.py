"""The one module that talks to Stripe. Everything else calls these small functions.

It speaks to whatever ``STRIPE_API_BASE`` names: Stripe itself, or the local stand-in in development
and tests, through the same calls. Results come back as plain values (dataclasses and dicts), so no
other module depends on the ``stripe`` package's types. Card data never passes through here: the
browser hands the card to Stripe.js, and we only see Stripe's ids, the card brand and last four digits.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app

log = logging.getLogger("portal.payments.stripe")


class GatewayError(RuntimeError):
    """Stripe could not be reached or refused the request for a reason the patient cannot fix."""


class CardDeclined(GatewayError):
    """The card was refused: ``code`` is Stripe's decline code, ``message`` Stripe's own words, ``intent_id`` the
    PaymentIntent that was refused, where Stripe said."""

    def __init__(self, code: str, message: str, intent_id: str | None = None) -> None:
        super().__init__("card declined: " + code)
        self.code = code
        self.message = message
        self.intent_id = intent_id


class NotFound(GatewayError):
    """Stripe has no such object: an id that did not come from Stripe, or one deleted there (a Customer made
    with test keys is unknown to live keys)."""


class Refused(GatewayError):
    """Stripe refused the request itself (HTTP 400 for a reason other than the card: an amount below Stripe's
    minimum, a card no longer attached): trying the same request again cannot help."""


class BadSignature(ValueError):
    """A webhook whose Stripe-Signature header is missing or does not match the body."""


@dataclass(frozen=True)
class SetupResult:
    id: str
    status: str
    customer: str | None
    payment_method: str | None
    card_brand: str | None
    card_last4: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class IntentResult:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str
    charge_id: str | None
    metadata: dict[str, str]
    # When the card was charged (Unix time), where Stripe sent the charge along.
    paid_at: int | None
    # Stripe's code and words for the last failed attempt, if any.
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True)
class RefundResult:
    id: str
    amount: int
    status: str
    charge_id: str | None


def _client() -> stripe.StripeClient:
    config = current_app.config
    if not config.get("STRIPE_SECRET_KEY"):
        raise GatewayError("card payments are not configured (PORTAL_STRIPE_SECRET_KEY is empty)")
    http_client = stripe.RequestsClient(timeout=int(config["STRIPE_TIMEOUT"]))
    # Stripe's SDK retries network failures itself, with the same idempotency key each time.
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], base_addresses={"api": config["STRIPE_API_BASE"]},
                               max_network_retries=2, http_client=http_client)


def enabled() -> bool:
    """Whether card payments are configured at all."""
    config = current_app.config
    return bool(config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_PUBLISHABLE_KEY"))


def _call(what: str, function, *args, **kwargs):  # noqa: ANN001, ANN202 (a bound SDK method)
    """Call the SDK, turning its errors into ours; the log names the call and Stripe's code, never card data.

    Objects come back as plain dicts; lists as the SDK's list, for paging.
    """
    try:
        result = function(*args, **kwargs)
        return result if isinstance(result, stripe.ListObject) else result.to_dict()
    except stripe.CardError as error:
        log.info("%s: card declined (%s)", what, error.code)
        detail = error.error
        intent = getattr(detail, "payment_intent", None) if detail is not None else None
        raise CardDeclined(getattr(detail, "decline_code", None) or error.code or "card_declined",
                           error.user_message or "", _id(intent.to_dict() if hasattr(intent, "to_dict") else intent)
                           ) from error
    except stripe.StripeError as error:
        if isinstance(error, stripe.InvalidRequestError) and (error.http_status == 404
                                                              or error.code == "resource_missing"):
            log.info("%s: no such object (HTTP %s)", what, error.http_status)
            raise NotFound(f"{what}: no such object") from error
        log.warning("%s failed: %s (HTTP %s, code %s)", what, type(error).__name__, error.http_status,
                    error.code)
        if isinstance(error, stripe.InvalidRequestError) and error.http_status == 400:
            raise Refused(f"{what} refused: {error.code or 'invalid request'}") from error
        raise GatewayError(f"{what} failed: {type(error).__name__}") from error


def _card(method: Any) -> tuple[str | None, str | None]:
    """The brand and last four digits from an expanded PaymentMethod (nothing from a bare id)."""
    card = (method.get("card") if isinstance(method, dict) else None) or {}
    return card.get("brand"), card.get("last4")


def _id(value: Any) -> str | None:
    """An id from a field Stripe sends either as an id or as the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def read_intent(pi: dict[str, Any]) -> IntentResult:
    """A PaymentIntent as Stripe sends it (in an answer or an event), as plain values."""
    error = pi.get("last_payment_error") or {}
    charge = pi.get("latest_charge")
    return IntentResult(id=str(pi.get("id") or ""), status=str(pi.get("status") or ""),
                        amount=int(pi.get("amount") or 0), currency=str(pi.get("currency") or "").upper(),
                        client_secret=pi.get("client_secret") or "", charge_id=_id(charge),
                        metadata=dict(pi.get("metadata") or {}),
                        paid_at=int(charge["created"]) if isinstance(charge, dict) and charge.get("created") else None,
                        error_code=error.get("decline_code") or error.get("code"),
                        error_message=error.get("message"))


def ensure_customer(name: str, account_number: str, idempotency_key: str) -> str:
    """Create the guarantor's Stripe Customer and return its id."""
    customer = _call("create customer", _client().v1.customers.create,
                     params={"name": name, "metadata": {"account": account_number}},
                     options={"idempotency_key": idempotency_key})
    return customer["id"]


def create_payment_intent(*, amount: int, currency: str, customer: str, metadata: dict[str, str],
                          idempotency_key: str) -> IntentResult:
    """Create a card PaymentIntent for ``amount`` minor units; Stripe returns the same one for the same key."""
    pi = _call("create payment intent", _client().v1.payment_intents.create,
               params={"amount": amount, "currency": currency.lower(), "customer": customer,
                       "payment_method_types": ["card"], "metadata": metadata},
               options={"idempotency_key": idempotency_key})
    return read_intent(pi)


def create_setup_intent(*, customer: str, metadata: dict[str, str], usage: str = "on_session") -> tuple[str, str]:
    """Create a SetupIntent for the card form; return its id and the client secret the browser needs.

    ``off_session`` is for a card saved to be charged later without the patient (a payment plan): the bank
    is asked to allow that when the card is set up.
    """
    seti = _call("create setup intent", _client().v1.setup_intents.create,
                 params={"customer": customer, "usage": usage, "payment_method_types": ["card"],
                         "metadata": metadata})
    return seti["id"], seti["client_secret"]


def retrieve_setup_intent(setup_intent_id: str) -> SetupResult:
    """What Stripe says of a SetupIntent the browser confirmed, with its card's brand and last four digits."""
    seti = _call("retrieve setup intent", _client().v1.setup_intents.retrieve, setup_intent_id,
                 params={"expand": ["payment_method"]})
    method = seti.get("payment_method")
    brand, last4 = _card(method)
    return SetupResult(id=seti["id"], status=seti["status"], customer=_id(seti.get("customer")),
                       payment_method=_id(method), card_brand=brand, card_last4=last4,
                       metadata=dict(seti.get("metadata") or {}))


def confirm_payment_intent(payment_intent_id: str, payment_method: str, idempotency_key: str) -> IntentResult:
    """Set the card on the PaymentIntent and confirm it: Stripe charges it, or asks for 3-D Secure.

    Two calls, because confirming with a ``payment_method`` argument is not supported everywhere we run.
    Raises CardDeclined when the card is refused.
    """
    client = _client()
    _call("update payment intent", client.v1.payment_intents.update, payment_intent_id,
          params={"payment_method": payment_method}, options={"idempotency_key": idempotency_key + "-pm"})
    pi = _call("confirm payment intent", client.v1.payment_intents.confirm, payment_intent_id,
               options={"idempotency_key": idempotency_key + "-confirm"})
    return read_intent(pi)


def charge_saved_card(*, amount: int, currency: str, customer: str, payment_method: str, metadata: dict[str, str],
                      idempotency_key: str) -> IntentResult:
    """Charge a card saved for later use, without the patient there (off-session), in one call.

    Raises CardDeclined when the card is refused. A bank that wants the patient to confirm (3-D Secure) cannot
    be answered off-session: that is a refusal too, with the code ``authentication_required``.
    """
    pi = _call("charge saved card", _client().v1.payment_intents.create,
               params={"amount": amount, "currency": currency.lower(), "customer": customer,
                       "payment_method": payment_method, "payment_method_types": ["card"], "confirm": True,
                       "off_session": True, "metadata": metadata},
               options={"idempotency_key": idempotency_key})
    intent = read_intent(pi)
    if intent.status == "requires_action":
        raise CardDeclined("authentication_required", "", intent.id)
    return intent


def find_payment_intent(key: str, value: str, since: int) -> IntentResult | None:
    """The PaymentIntent made since ``since`` (Unix time) whose metadata has ``key`` = ``value``, if any: for a
    charge whose answer was lost, so that it is looked up rather than made again."""
    for intent in list_payment_intents(since):
        if intent.metadata.get(key) == value:
            return intent
    return None


def retrieve_payment_intent(payment_intent_id: str) -> IntentResult:
    return read_intent(_call("retrieve payment intent", _client().v1.payment_intents.retrieve, payment_intent_id,
                             params={"expand": ["latest_charge"]}))


def cancel_payment_intent(payment_intent_id: str) -> None:
    """Cancel a PaymentIntent whose attempt failed, so that it can never be charged later."""
    _call("cancel payment intent", _client().v1.payment_intents.cancel, payment_intent_id)


def card_of_payment_intent(payment_intent_id: str) -> tuple[str | None, str | None]:
    """The brand and last four digits of the card a PaymentIntent was paid with."""
    pi = _call("retrieve payment intent", _client().v1.payment_intents.retrieve, payment_intent_id,
               params={"expand": ["payment_method"]})
    return _card(pi.get("payment_method"))


def list_payment_intents(since: int) -> Iterator[IntentResult]:
    """Every PaymentIntent created at or after the Unix time ``since``, page by page.

    Filtered here rather than with Stripe's ``created`` parameter, which the local stand-in refuses;
    one code path for both matters more than the pages saved.
    """
    page = _call("list payment intents", _client().v1.payment_intents.list,
                 params={"limit": 100, "expand": ["data.latest_charge"]})
    for pi in page.auto_paging_iter():
        if int(pi["created"] or 0) >= since:
            yield read_intent(pi.to_dict())


def create_refund(*, payment_intent_id: str, amount: int, metadata: dict[str, str],
                  idempotency_key: str) -> RefundResult:
    refund = _call("create refund", _client().v1.refunds.create,
                   params={"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
                   options={"idempotency_key": idempotency_key})
    return RefundResult(id=refund["id"], amount=int(refund["amount"]), status=refund["status"],
                        charge_id=_id(refund.get("charge")))


def list_refunds(charge_id: str) -> list[RefundResult]:
    """Every refund of a charge, for an event that did not carry them."""
    page = _call("list refunds", _client().v1.refunds.list, params={"charge": charge_id, "limit": 100})
    return [RefundResult(id=r["id"], amount=int(r["amount"]), status=r["status"], charge_id=_id(r["charge"]))
            for r in page.auto_paging_iter()]


def verify_webhook(payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check the Stripe-Signature header against the raw body and return the event as a plain dict."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise BadSignature("PORTAL_STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise BadSignature("no Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as error:
        raise BadSignature(str(error)) from error
    except ValueError as error:
        raise BadSignature("the body is not JSON") from error
    return event.to_dict()
