"""Card payments end to end in a real browser: Debian's Chromium driven by Playwright.

The portal runs on a live server and the local Stripe stand-in plays Stripe: its fake Stripe.js mounts
plain inputs in place of Stripe's card frame, opens a modal for 3-D Secure, and sends webhooks back to
the live server. So these tests run everything the unit tests stub out: pay.js and wait.js, the card
page's Content-Security-Policy, the SetupIntent then PaymentIntent dance, and posting by webhook.

Test cards are Stripe's: 4242… pays, …0002 is declined when the card is saved, …0341 is declined when
it is charged, and …3184 asks for 3-D Secure both when the card is saved and when it is charged.
"""
from __future__ import annotations

import re
import time
from datetime import date

import pytest
from sqlalchemy import select

from .browser import CHROMIUM, DESKTOP, PHONE, chromium

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (no browser is downloaded)",
                allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.payments.models import Payment, StripeEvent  # noqa: E402

from .payflow import DECLINED_AT_CHARGE, DECLINED_AT_SETUP, GOOD_CARD, NEEDS_3DS  # noqa: E402

# Long enough for the stand-in's webhook (sent a second after the charge) and wait.js's polling;
# short enough that a stuck page fails the test instead of hanging the run.
TIMEOUT_MS = 20_000
PASSWORD = "correct horse battery"

PAYS, THREE_D_SECURE = GOOD_CARD, NEEDS_3DS

CARD_PAGE = re.compile(r"/payments/[^/]+/card$")
STATUS_PAGE = re.compile(r"/payments/[^/]+$")


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def viewport() -> dict:
    return PHONE


@pytest.fixture
def page(browser: Browser, live_server, viewport):
    """A fresh browser profile on the live server; fails the test if the page broke its own script or policy."""
    context = browser.new_context(viewport=viewport, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    # A blocked script or fetch only shows as a console message, and then the card form silently does nothing.
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        yield page
    finally:
        context.close()
        expect.set_options(timeout=5_000)
    assert not problems, problems


# ------------------------------------------------------------------------------------------------ steps

def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def open_pay_form(page: Page, statement_number: str, amount_due: str) -> None:
    page.goto(f"/statements/{statement_number}")
    page.get_by_role("link", name="Pay this bill").click()
    expect(page).to_have_url(re.compile(rf"/statements/{statement_number}/pay$"))
    expect(page.get_by_label(f"The full amount due, {amount_due}")).to_be_checked()


def continue_to_card(page: Page, other_amount: str | None = None) -> None:
    """Leave the full amount chosen, or choose another amount; then go on to the card page."""
    if other_amount is not None:
        page.get_by_label("Another amount").check()
        page.get_by_label("Amount", exact=True).fill(other_amount)
    page.get_by_role("button", name="Continue to card details").click()
    page.wait_for_url(CARD_PAGE)


def pay_with_card(page: Page, number: str, amount: str) -> None:
    """Type the card into the stand-in's inputs, which take the place of Stripe's card frame, and pay."""
    card = page.locator("#card-element")
    for placeholder, value in (("number", number), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123"),
                               ("postal_code", "12345")):
        card.get_by_placeholder(placeholder, exact=True).fill(value)
    page.get_by_role("button", name=f"Pay {amount}").click()


def answer_bank(page: Page, *, complete: bool) -> None:
    page.get_by_role("button", name="Complete authentication" if complete else "Fail authentication").click()


def to_the_card_page(page: Page, statement_number: str) -> None:
    """Sign in as the patient and choose to pay the whole $90.00 of their statement."""
    sign_in(page, "pat@example.org")
    open_pay_form(page, statement_number, "$90.00")
    continue_to_card(page)


def pass_the_bank_check_for_saving_the_card(page: Page) -> None:
    """The stand-in checks a 3-D Secure card twice: when it is saved, then when it is charged."""
    answer_bank(page, complete=True)
    expect(page.get_by_text("A window from your bank opens")).to_be_visible()


def expect_receipt(page: Page, *, paid: str, left: str) -> None:
    page.wait_for_url(STATUS_PAGE)
    # wait.js shows "Processing your payment" until the webhook posts, then reloads into the receipt.
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    receipt = page.locator("dl.receipt")
    expect(fact(receipt, "Amount paid")).to_have_text(paid)
    expect(fact(receipt, "Left to pay on this statement")).to_have_text(left)


def expect_not_taken(page: Page) -> None:
    page.wait_for_url(STATUS_PAGE)
    expect(page.get_by_role("heading", name="Payment not taken")).to_be_visible()
    expect(page.get_by_text("Nothing was charged for this try.")).to_be_visible()


def fact(facts, label: str):
    """The value next to a label in a ``<dl>`` of facts."""
    return facts.locator("div").filter(has=facts.page.get_by_text(label, exact=True)).locator("dd")


def payments() -> list[tuple[int, str]]:
    """Every payment the portal recorded, as (amount in cents, status), read fresh from the database."""
    # The server committed from its own threads: end this session's transaction so that none of it is stale.
    db.session.rollback()
    return [(p.amount, p.status) for p in db.session.scalars(select(Payment).order_by(Payment.id))]


def succeeded() -> list[int]:
    return [amount for amount, status in payments() if status == "succeeded"]


def webhook_events(kind: str, *, wait: bool = False) -> list[StripeEvent]:
    """The stand-in's events of this type that the server stored, waiting (bounded) for the first one."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        db.session.rollback()
        events = db.session.scalars(select(StripeEvent).where(StripeEvent.type == kind)).all()
        if events or not wait or time.monotonic() > deadline:
            return list(events)
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------ tests

@pytest.fixture
def patient_statement(make) -> str:
    """A $90.00 statement on an account with a patient login; returns the statement number."""
    account = make.account()
    make.user("pat@example.org", accounts=[account])
    return make.statement(account, lines=3).number


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_signed_in_patient_pays_part_of_a_statement(page: Page, patient_statement: str):
    sign_in(page, "pat@example.org")
    open_pay_form(page, patient_statement, "$90.00")
    continue_to_card(page, "25.00")
    expect(page.get_by_role("heading", name="Pay $25.00")).to_be_visible()

    pay_with_card(page, PAYS, "$25.00")

    expect_receipt(page, paid="$25.00", left="$65.00")
    expect(page.get_by_text("Visa ending in 4242")).to_be_visible()
    assert payments() == [(2500, "succeeded")]


def test_quick_pay_guest_pays_the_full_amount(page: Page, make):
    account = make.account()
    make.patient(account, "Alex", "Guarantor", date(1980, 5, 17))
    number = make.statement(account, lines=3).number
    page.goto("/quick-pay")
    page.get_by_label("Statement number").fill(number)
    page.get_by_label("Date of birth").fill("05/17/1980")
    page.get_by_role("button", name="Find my bill").click()
    page.wait_for_url(re.compile(rf"/statements/{number}$"))

    open_pay_form(page, number, "$90.00")
    continue_to_card(page)
    pay_with_card(page, PAYS, "$90.00")

    expect_receipt(page, paid="$90.00", left="$0.00")
    assert payments() == [(9000, "succeeded")]
    page.get_by_role("link", name="Back to the statement").click()
    expect(page.get_by_text("You have nothing left to pay on this statement.")).to_be_visible()
    expect(page.get_by_role("link", name="Pay this bill")).to_have_count(0)


def test_card_declined_when_saved_shows_why_on_the_card_page(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)

    pay_with_card(page, DECLINED_AT_SETUP, "$90.00")

    errors = page.locator("#card-errors")
    expect(errors).to_be_visible()
    expect(errors).to_have_text("Your card was declined. Please try another card, or call your card issuer.")
    expect(errors).to_be_focused()
    # The patient can correct the card and try again on the same page.
    expect(page).to_have_url(CARD_PAGE)
    expect(page.get_by_role("button", name="Pay $90.00")).to_be_enabled()
    assert succeeded() == []


def test_after_a_decline_another_card_pays_on_the_same_page(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)
    pay_with_card(page, DECLINED_AT_SETUP, "$90.00")
    expect(page.locator("#card-errors")).to_contain_text("Your card was declined.")

    pay_with_card(page, PAYS, "$90.00")

    expect_receipt(page, paid="$90.00", left="$0.00")
    assert payments() == [(9000, "succeeded")]


def test_card_declined_when_charged_shows_payment_not_taken(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)

    pay_with_card(page, DECLINED_AT_CHARGE, "$90.00")

    expect_not_taken(page)
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    assert payments() == [(9000, "failed")]
    # Stripe's own word on the failure comes later by webhook: it must match up and change nothing.
    [event] = webhook_events("payment_intent.payment_failed", wait=True)
    assert event.payment_id is not None and event.review_reason is None
    assert payments() == [(9000, "failed")]


def test_three_d_secure_completed_posts_the_payment_once(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)

    pay_with_card(page, THREE_D_SECURE, "$90.00")
    pass_the_bank_check_for_saving_the_card(page)
    answer_bank(page, complete=True)

    expect_receipt(page, paid="$90.00", left="$0.00")
    assert payments() == [(9000, "succeeded")]
    [event] = webhook_events("payment_intent.succeeded", wait=True)
    assert event.payment_id is not None and event.review_reason is None
    # Seeing the receipt again must not post the payment a second time.
    page.reload()
    expect(fact(page.locator("dl.receipt"), "Left to pay on this statement")).to_have_text("$0.00")
    assert payments() == [(9000, "succeeded")]


def test_three_d_secure_failed_at_the_charge_takes_nothing(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)

    pay_with_card(page, THREE_D_SECURE, "$90.00")
    pass_the_bank_check_for_saving_the_card(page)
    answer_bank(page, complete=False)

    expect_not_taken(page)
    expect(page.get_by_role("alert")).to_contain_text("Your bank could not confirm this payment")
    assert payments() == [(9000, "failed")]
    page.get_by_role("link", name="Back to the statement").click()
    expect(page.locator("p.headline")).to_contain_text("You owe $90.00")


def test_three_d_secure_failed_when_saved_stays_on_the_card_page(page: Page, patient_statement: str):
    to_the_card_page(page, patient_statement)

    pay_with_card(page, THREE_D_SECURE, "$90.00")
    answer_bank(page, complete=False)

    errors = page.locator("#card-errors")
    expect(errors).to_be_visible()
    # The words are the stand-in's own (Stripe.js words it in the patient's language): any will do.
    expect(errors).to_have_text(re.compile(r"\w"))
    expect(page).to_have_url(CARD_PAGE)
    expect(page.get_by_role("button", name="Pay $90.00")).to_be_enabled()
    assert payments() == [(9000, "pending")]


# ------------------------------------------------------------------------------------------ payment plans

@pytest.mark.parametrize("card", [PAYS, THREE_D_SECURE], ids=["card", "3-D Secure"])
def test_a_patient_sets_up_a_payment_plan_and_saves_a_card_on_a_phone(page: Page, make, card: str):
    from portal.plans.models import PaymentPlan

    account = make.account()
    make.user("pat@example.org", accounts=[account])
    number = make.statement(account, lines=4, insured=False).number  # $320.00 due
    sign_in(page, "pat@example.org")
    page.goto(f"/statements/{number}")
    page.get_by_role("link", name="Need more time? Pay in monthly payments with no interest").click()
    page.get_by_label("4 payments of $80.00").check()
    page.get_by_label("Day of the month to charge your card").select_option("15")
    page.get_by_role("button", name="Show the schedule").click()
    expect(page.get_by_role("table")).to_contain_text("$80.00")
    page.get_by_label("I agree to this schedule").check()
    page.get_by_role("button", name="Agree and add a card").click()
    page.wait_for_url(re.compile(r"/payment-plans/[^/]+/card$"))
    cardbox = page.locator("#card-element")
    for placeholder, value in (("number", card), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123"),
                               ("postal_code", "12345")):
        cardbox.get_by_placeholder(placeholder, exact=True).fill(value)
    page.get_by_role("button", name="Save this card for my plan").click()
    if card == THREE_D_SECURE:
        answer_bank(page, complete=True)
    page.wait_for_url(re.compile(r"/payment-plans/[^/]+$"))
    expect(page.get_by_text("Your payment plan is set up.")).to_be_visible()
    expect(page.get_by_role("button", name="Pay $80.00 now")).to_be_visible()
    # Nothing is charged until the first date; the page fits a phone without sideways scrolling.
    assert payments() == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    db.session.rollback()
    plan = db.session.scalar(select(PaymentPlan))
    assert plan.status == "active" and plan.stripe_payment_method_id
