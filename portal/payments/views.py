"""Paying a statement by card, the receipt, the payment history, and the billing office's refunds and review list."""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, g, jsonify, make_response, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from ..audit.web import audit
from ..billing.access import current_viewer, statement_for
from ..billing.services import summary_for
from ..extensions import db, limiter
from ..http_headers import card_form_policy
from ..i18n import _, _l, current_locale
from ..money import AmountError, parse_amount
from ..urls import MAX_ID
from . import services
from . import stripe_gateway as gateway
from .forms import FULL, OTHER, CardForm, PayForm, RefundForm, ReviewedForm
from .models import Payment, StripeEvent
from .receipts import queue_receipts

bp = Blueprint("payments", __name__)

CARD_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
               "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay"}

# Why an amount or a request cannot be paid, in the patient's words; %(minimum)s and %(maximum)s are amounts.
REFUSALS = {
    "already_paid": _l("This statement is already paid in full. There is nothing to pay."),
    "empty": _l("Enter the amount you want to pay."),
    "not_a_number": _l("Enter the amount as a number, for example %(example)s."),
    "too_many_decimals": _l("Enter the amount like %(example)s, with no more digits after the decimal point."),
    "not_positive": _l("Enter an amount more than zero."),
    "below_minimum": _l("The smallest payment we can take is %(minimum)s."),
    "above_due": _l("You can pay up to %(maximum)s, the amount due on this statement."),
    "above_refundable": _l("You can refund up to %(maximum)s, what is left of this payment."),
    "not_refundable": _l("This payment cannot be refunded by card."),
    "card_not_set_up": _l("We could not use that card. Please enter it again."),
    "unknown_at_stripe": _l("Stripe has no record of this payment, so it cannot be refunded here. It may have been "
                            "taken with other Stripe keys: refund it from Stripe's dashboard."),
}

# Stripe's decline codes a patient can act on; any other code gets the general message.
DECLINES = {
    "card_declined": _l("Your card was declined. Please try another card, or call your card issuer."),
    "insufficient_funds": _l("Your card was declined because there is not enough money available. "
                             "Please try another card."),
    "expired_card": _l("Your card has expired. Please try another card."),
    "incorrect_cvc": _l("The security code is not right. Please check the 3 or 4 digits on your card."),
    "payment_intent_authentication_failure": _l("Your bank could not confirm this payment, so the card was not "
                                                "charged. Please try again or use another card."),
}


@bp.record_once
def _register_globals(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    state.app.jinja_env.globals.update(card_brand_name=lambda brand: CARD_BRANDS.get(brand or "", brand or ""),
                                       decline_message=decline_message,
                                       decline_messages=lambda: {code: str(text) for code, text in DECLINES.items()})


def decline_message(code: str | None) -> str:
    return str(DECLINES.get(code or "", DECLINES["card_declined"]))


def _refusal(error: services.PaymentRefused) -> str:
    values = {name: money.format(current_locale()) for name, money in error.values.items()}
    return str(REFUSALS[error.reason]) % values if values else str(REFUSALS[error.reason])


def _visible_payment(public_id: str) -> tuple[Payment, bool]:
    """The payment if its statement is visible to this viewer (and whether they are a guest), else 404."""
    payment = services.payment_by_public_id(public_id)
    viewer = current_viewer()
    if payment is None or not viewer.may_see(payment.statement):
        abort(404)
    return payment, viewer.is_guest_for(payment.statement)


def _unavailable(payment: Payment, retry_url: str | None = None, *, maybe_charged: bool = False):
    """Stripe could not be reached: a calm page with a way to try again; nothing was posted.

    ``maybe_charged`` is for a charge Stripe may have made before the answer was lost: the patient is
    told it will show up, and that the same payment can never be charged twice.
    """
    db.session.rollback()
    retry_url = retry_url or url_for("payments.card", public_id=payment.public_id)
    return render_template("payments/unavailable.html", payment=payment, retry_url=retry_url,
                           maybe_charged=maybe_charged), 503


@bp.route("/statements/<number>/pay", methods=["GET", "POST"])
def pay(number: str):
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None:
        abort(404)
    summary = summary_for(statement)
    limits = services.payment_limits(summary, current_app.config["PAYMENT_MINIMUM_MINOR"])
    form = PayForm()
    if request.method == "GET" and current_user.is_authenticated and not viewer.is_staff:
        form.receipt_email.data = current_user.email
    if not gateway.enabled():
        return render_template("payments/pay.html", form=None, statement=statement, summary=summary,
                               limits=limits), 503
    if form.validate_on_submit():
        try:
            amount = services.choose_amount(summary, pay_full=form.choice.data == FULL,
                                            text=form.other_amount.data or "", locale=current_locale(),
                                            minimum_minor=current_app.config["PAYMENT_MINIMUM_MINOR"])
        except services.PaymentRefused as error:
            target = form.form_errors if error.reason == "already_paid" else form.other_amount.errors
            target.append(_refusal(error))
        else:
            payment = _start(statement, amount, form, viewer.is_guest_for(statement))
            try:
                services.prepare_card_payment(payment)
                db.session.commit()
            except gateway.GatewayError:
                return _unavailable(payment)
            return redirect(url_for("payments.card", public_id=payment.public_id))
    status = 400 if form.is_submitted() else 200
    return render_template("payments/pay.html", form=form, statement=statement, summary=summary,
                           limits=limits, FULL=FULL, OTHER=OTHER), status


def _start(statement, amount, form: PayForm, as_guest: bool) -> Payment:  # noqa: ANN001
    """Record the payment once per form, even when a double click sends the form twice at the same moment."""
    user_id = current_user.id if current_user.is_authenticated else None
    try:
        payment = services.start_payment(statement, amount, attempt_key=form.attempt.data, user_id=user_id,
                                         receipt_email=form.receipt_email.data, locale=current_locale())
        audit("payment.started", "payment", payment.id, guest=as_guest)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        payment = services.payment_by_attempt(form.attempt.data)
        if payment is None:
            raise
    if payment.statement_id != statement.id:
        abort(400)
    return payment


def _card_page(payment: Payment, form: CardForm, *, client_secret: str, mode: str, error: str | None = None,
               status: int = 200):
    response = make_response(render_template("payments/card.html", payment=payment, form=form,
                                             client_secret=client_secret, mode=mode, error=error,
                                             summary=summary_for(payment.statement)), status)
    response.headers["Content-Security-Policy"] = card_form_policy(current_app.config)
    return response


def _declined(response) -> bool:  # noqa: ANN001 (a Flask response)
    return bool(g.get("card_declined"))


def _statement_of_payment() -> str:
    payment = services.payment_by_public_id((request.view_args or {}).get("public_id", ""))
    return f"card-statement:{payment.statement_id if payment else 'none'}"


def _decline_limit() -> str:
    return current_app.config["CARD_DECLINE_LIMIT"]


@bp.route("/payments/<public_id>/card", methods=["GET", "POST"])
@limiter.limit(_decline_limit, scope="card-declines-by-address", methods=["POST"], deduct_when=_declined)
@limiter.limit(_decline_limit, scope="card-declines-by-statement", key_func=_statement_of_payment,
               methods=["POST"], deduct_when=_declined)
def card(public_id: str):
    payment, _guest = _visible_payment(public_id)
    # A payment plan's charge is made with the plan's saved card, never from this form.
    if payment.status != "pending" or payment.plan_charge_id is not None:
        return redirect(url_for("payments.status", public_id=payment.public_id))
    form = CardForm()
    if form.validate_on_submit():
        try:
            outcome = services.confirm_card(payment, form.setup_intent.data)
            db.session.commit()
        except services.PaymentRefused as error:
            db.session.rollback()
            if error.reason == "not_pending":
                return redirect(url_for("payments.status", public_id=payment.public_id))
            message = _refusal(error)
        except gateway.GatewayError:
            return _unavailable(payment, maybe_charged=True)
        else:
            g.card_declined = outcome.kind == "failed"
            if outcome.kind == "authenticate":
                return _card_page(payment, form, client_secret=outcome.client_secret or "", mode="authenticate")
            return redirect(url_for("payments.status", public_id=payment.public_id))
    else:
        message = next(iter(form.setup_intent.errors), None) if form.is_submitted() else None
    try:
        services.prepare_card_payment(payment)
        secret = services.card_form_secret(payment)
        db.session.commit()
    except gateway.GatewayError:
        return _unavailable(payment)
    return _card_page(payment, form, client_secret=secret, mode="card", error=message,
                      status=400 if message else 200)


def _refresh(payment: Payment) -> None:
    """Bring a pending payment up to date from Stripe, posting through the same service as webhooks."""
    if payment.status != "pending":
        return
    try:
        applied = services.refresh_pending(payment, current_app.config["STRIPE_WEBHOOK_GRACE_SECONDS"])
        db.session.commit()
    except gateway.GatewayError:
        db.session.rollback()
        return
    queue_receipts(applied.posted)


@bp.route("/payments/<public_id>")
def status(public_id: str):
    payment, as_guest = _visible_payment(public_id)
    if payment.status == "pending" and payment.card_last4 is None:
        # No card was sent for it yet (the patient left the card page): nothing to wait for.
        return redirect(url_for("payments.card", public_id=payment.public_id))
    _refresh(payment)
    audit("payment.viewed", "payment", payment.id, guest=as_guest)
    db.session.commit()
    balance = services.receipt_balance(payment) if payment.settled else None
    return render_template("payments/status.html", payment=payment, statement=payment.statement, balance=balance)


@bp.route("/payments/<public_id>/status.json")
def status_json(public_id: str):
    """For the waiting page's script: has the payment been posted yet?"""
    payment, _guest = _visible_payment(public_id)
    _refresh(payment)
    return jsonify(status=payment.status)


@bp.route("/payments")
@login_required
def history():
    if current_user.is_staff:
        return redirect(url_for("billing.staff_search"))
    payments = services.payments_for_accounts(a.id for a in current_user.accounts)
    return render_template("payments/history.html", payments=payments)


# ------------------------------------------------------------------------------------------ billing office

def _supervisor_only() -> None:
    if not (current_user.is_authenticated and current_user.role == "supervisor"):
        abort(404)


@bp.route("/staff/payments/<public_id>/refund", methods=["GET", "POST"])
@login_required
def refund(public_id: str):
    _supervisor_only()
    payment = services.payment_by_public_id(public_id)
    if payment is None or not payment.settled or payment.method != "card":
        abort(404)
    form = RefundForm()
    if request.method == "GET":
        form.amount.data = payment.refundable.format(current_locale())
    if form.validate_on_submit():
        try:
            amount = parse_amount(form.amount.data, payment.currency, current_locale())
            changed = services.refund_payment(payment, amount, reason=form.reason.data.strip(),
                                              user_id=current_user.id, attempt_key=form.attempt.data)
        except AmountError as error:
            db.session.rollback()
            form.amount.errors.append(_refusal(services.amount_refusal(error, payment.currency)))
        except services.PaymentRefused as error:
            db.session.rollback()
            form.amount.errors.append(_refusal(error))
        except gateway.NotFound:
            db.session.rollback()
            form.form_errors.append(_refusal(services.PaymentRefused("unknown_at_stripe")))
        except gateway.GatewayError:
            return _unavailable(payment, retry_url=url_for("payments.refund", public_id=payment.public_id))
        else:
            audit("payment.refunded", "payment", payment.id)
            db.session.commit()
            if changed:
                flash(_("Refunded %(amount)s to the card. The statement's balance is updated.",
                        amount=amount.format(current_locale())), "success")
            return redirect(url_for("billing.statement", number=payment.statement.number))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("payments/refund.html", payment=payment, form=form), status


@bp.route("/staff/payments/review", methods=["GET"])
@login_required
def review():
    if not current_user.is_staff:
        abort(404)
    events, disputed = services.needs_review()
    return render_template("payments/review.html", events=events, disputed=disputed, form=ReviewedForm())


@bp.route("/staff/payments/review/<int:event_id>", methods=["POST"])
@login_required
def reviewed(event_id: int):
    if not current_user.is_staff:
        abort(404)
    form = ReviewedForm()
    # A number too big for a database integer is simply not found (the database would refuse to compare it).
    event = db.session.get(StripeEvent, event_id) if event_id <= MAX_ID else None
    if event is None or not form.validate_on_submit():
        abort(404 if event is None else 400)
    if event.reviewed_at is None:
        event.reviewed_at = services.utcnow()
        audit("stripe_event.reviewed", "stripe_event", event.id)
        db.session.commit()
    flash(_("Marked as reviewed."), "success")
    return redirect(url_for("payments.review"))
