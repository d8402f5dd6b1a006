"""Payment plans: choosing and agreeing to a schedule, saving the card with a SetupIntent, charging each
instalment off-session on its date (once, however often the run repeats), notices, retries, a broken plan in a
staff member's inbox, adding a statement, paying ahead, autopay, and cancelling, against the Stripe stand-in."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.billing.services import summary_for
from portal.extensions import db
from portal.outbox.models import OutgoingMail
from portal.payments import stripe_gateway as gateway
from portal.payments.models import Payment
from portal.plans import charging, schedule, services
from portal.plans.models import PaymentPlan, PlanCharge
from portal.questions.models import Question, StaffProfile

from .conftest import STRIPE_KEYS, csrf_token
from .pages import soup
from .payflow import DECLINED_AT_CHARGE, GOOD_CARD, set_up_card, stand_in

RULES = schedule.Rules(threshold=10000, minimum_monthly=2500, maximum_months=12, notice_days=3)
ZONE = ZoneInfo("America/Chicago")


def at(day: date, hour: int = 12) -> datetime:
    """A moment on ``day`` on the test hospital's calendar."""
    return datetime.combine(day, time(hour), tzinfo=ZONE)


def run_on(day: date) -> charging.RunReport:
    """The worker's runs as the days go by: the notice three days ahead, then the charge on the day."""
    charging.run(at(day - timedelta(days=3)))
    return charging.run(at(day))


def subjects(kind: str = "payment_plan") -> list[str]:
    return [mail.subject for mail in db.session.scalars(select(OutgoingMail).where(OutgoingMail.kind == kind)
                                                        .order_by(OutgoingMail.id))]


def intents_for(base: str, payment: Payment) -> list[dict]:
    _status, page = stand_in(base, "/v1/payment_intents?limit=100", secret_key=True)
    return [pi for pi in page["data"] if pi["metadata"].get("portal_payment") == payment.public_id]


# ------------------------------------------------------------------------------------------------ schedule

def test_instalments_add_up_to_the_cent_and_the_last_absorbs_the_rounding():
    rows = schedule.instalments(100001, 3, date(2027, 1, 15))
    assert [r.amount for r in rows] == [33333, 33333, 33335]
    assert sum(r.amount for r in rows) == 100001
    assert [r.due_on for r in rows] == [date(2027, 1, 15), date(2027, 2, 15), date(2027, 3, 15)]
    # Across a year's end, every month on the same day.
    assert [r.due_on for r in schedule.instalments(30000, 3, date(2026, 11, 28))] == [
        date(2026, 11, 28), date(2026, 12, 28), date(2027, 1, 28)]


def test_the_first_charge_leaves_time_for_the_notice():
    assert schedule.first_due(date(2026, 12, 4), 10, 3) == date(2026, 12, 10)
    assert schedule.first_due(date(2026, 12, 4), 6, 3) == date(2027, 1, 6)
    assert schedule.first_due(date(2026, 12, 4), 7, 3) == date(2026, 12, 7)


def test_month_choices_follow_the_rules():
    assert schedule.month_choices(32000, RULES) == list(range(2, 13))
    # 120.00 allows at most 4 months of at least 25.00.
    assert schedule.month_choices(12000, RULES) == [2, 3, 4]
    # Added to a running plan, a small remainder may be one payment.
    assert schedule.month_choices(3000, RULES, revision=True) == [1]


@pytest.mark.parametrize("total, months, day, reason", [
    (10000, 2, 5, "below_threshold"),
    (32000, 1, 5, "too_few_months"),
    (32000, 13, 5, "too_many_months"),
    (12000, 5, 5, "below_minimum_monthly"),
    (32000, 4, 29, "day"),
    (32000, 4, 0, "day"),
])
def test_schedules_that_break_the_rules_are_refused(total, months, day, reason):
    with pytest.raises(schedule.ScheduleRefused) as refused:
        schedule.build(total, months, day, date(2026, 12, 4), RULES)
    assert refused.value.reason == reason


# ------------------------------------------------------------------------------------------------ helpers

@pytest.fixture
def owing(make):
    """A signed-up patient owing 320.00 on one self-pay statement."""
    account = make.account()
    statement = make.statement(account, lines=4, insured=False)
    user = make.user(accounts=[account])
    return user, statement


def schedule_form(submit, number: str, *, months="4", day="10", action="preview", agree=False, total=None,
                  email="pat@example.org"):
    url = f"/statements/{number}/payment-plan"
    fields = {"months": months, "day": day, "email": email, "action": action}
    if total is not None:
        fields["total"] = str(total)
    if agree:
        fields["agree"] = "y"
    return submit(url, fields)


def agree(submit, number: str, **fields) -> PaymentPlan:
    statement_total = 32000
    response = schedule_form(submit, number, action="agree", agree=True, total=fields.pop("total", statement_total),
                             **fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    public_id = response.headers["Location"].split("/payment-plans/")[1].split("/")[0]
    return db.session.scalar(select(PaymentPlan).where(PaymentPlan.public_id == public_id))


def save_card(client, localstripe, plan: PaymentPlan, card: str = GOOD_CARD):
    page = client.get(f"/payment-plans/{plan.public_id}/card")
    assert page.status_code == 200, page.get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', page.get_data(as_text=True)).group(1)
    status, setup = set_up_card(localstripe, secret, card)
    assert status == 200, setup
    response = client.post(f"/payment-plans/{plan.public_id}/card",
                           data={"setup_intent": setup["id"],
                                 "csrf_token": csrf_token(client, f"/payment-plans/{plan.public_id}/card")})
    db.session.expire_all()
    return response


@pytest.fixture
def planned(owing, login_as, submit, client, localstripe):
    """The patient has agreed to 4 monthly payments of 80.00 on the 10th and saved a good card."""
    user, statement = owing
    login_as(user)
    plan = agree(submit, statement.number)
    response = save_card(client, localstripe, plan)
    assert response.status_code == 302
    db.session.refresh(plan)
    return plan, statement


def first_charge(plan: PaymentPlan) -> PlanCharge:
    db.session.expire_all()
    return plan.instalments[0]


# ------------------------------------------------------------------------------------------------ setting up

def test_a_patient_sees_the_offer_chooses_a_schedule_agrees_and_saves_a_card(owing, login_as, submit, client,
                                                                             localstripe):
    user, statement = owing
    login_as(user)
    page = soup(client.get(f"/statements/{statement.number}"))
    offer = page.find("a", href=f"/statements/{statement.number}/payment-plan")
    assert offer is not None and "monthly payments" in offer.get_text()

    form = soup(client.get(f"/statements/{statement.number}/payment-plan"))
    labels = [label.get_text(" ", strip=True) for label in form.select("fieldset label")]
    assert "4 payments of $80.00" in labels
    assert "3 payments: all of $106.66 but the last, which is $106.68" in labels
    # No more months than the rules allow, none below the monthly minimum (320.00 / 12 = 26.66).
    assert len(labels) == 11

    shown = schedule_form(submit, statement.number, months="3")
    assert shown.status_code == 200
    table = soup(shown).find("table", class_="schedule")
    cells = [td.get_text(strip=True) for td in table.select("tbody td")]
    assert cells[1::2] == ["$106.66", "$106.66", "$106.68"]
    assert table.find("tfoot").get_text(" ", strip=True).endswith("$320.00")

    # Agreeing needs the box ticked.
    refused = schedule_form(submit, statement.number, months="3", action="agree", total=32000)
    assert refused.status_code == 400
    assert "Tick the box to agree" in refused.get_data(as_text=True)
    assert db.session.scalar(select(PaymentPlan)) is None

    plan = agree(submit, statement.number, months="3")
    assert plan.status == "awaiting_card"
    assert [c.amount for c in plan.instalments] == [10666, 10666, 10668]
    assert all(c.due_on.day == 10 for c in plan.instalments)

    response = save_card(client, localstripe, plan)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/payment-plans/{plan.public_id}")
    db.session.refresh(plan)
    assert plan.status == "active" and plan.card_last4 == "4242" and plan.stripe_payment_method_id.startswith("pm_")
    assert subjects() == ["Your payment plan is set up"]
    # Nothing is charged when the card is saved.
    assert db.session.scalar(select(Payment)) is None

    page = client.get(f"/payment-plans/{plan.public_id}")
    text = soup(page).get_text(" ", strip=True)
    assert "Visa ending in 4242" in text and "Left to pay $320.00" in text
    # The statement now points to the plan instead of offering one.
    statement_page = soup(client.get(f"/statements/{statement.number}"))
    assert statement_page.find("a", href=f"/payment-plans/{plan.public_id}") is not None


def test_bad_schedules_are_refused_with_a_clear_message_and_nothing_is_stored(owing, login_as, submit):
    user, statement = owing
    login_as(user)
    for fields, message in [
        ({"months": "13"}, "Choose at most 12 monthly payments."),
        ({"months": "1"}, "Choose at least 2 monthly payments."),
        ({"months": "abc"}, "Choose at least 2 monthly payments."),
        ({"day": "31"}, "Choose a day from 1 to 28."),
        ({"email": "not-an-address"}, "Enter an email address like name@example.com."),
    ]:
        response = schedule_form(submit, statement.number, action="agree", agree=True, total=32000, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    assert db.session.scalar(select(PaymentPlan)) is None


def test_a_schedule_agreed_after_the_balance_changed_is_refused(owing, login_as, submit, make):
    user, statement = owing
    login_as(user)
    make.payment(statement, 2000)
    response = schedule_form(submit, statement.number, action="agree", agree=True, total=32000)
    assert response.status_code == 400
    assert "Your balance has changed" in response.get_data(as_text=True)
    assert db.session.scalar(select(PaymentPlan)) is None


def test_a_balance_at_or_below_the_threshold_is_not_offered_a_plan(household, login_as, submit, client):
    user, statement = household  # 90.00 due
    login_as(user)
    assert soup(client.get(f"/statements/{statement.number}")).find(
        "a", href=f"/statements/{statement.number}/payment-plan") is None
    page = client.get(f"/statements/{statement.number}/payment-plan")
    assert page.status_code == 200
    assert "A payment plan is for balances over $100.00" in page.get_data(as_text=True)
    schedule_form(submit, statement.number, action="agree", agree=True, total=9000)
    assert db.session.scalar(select(PaymentPlan)) is None


def test_plans_are_private(planned, make, client, login_as, submit):
    plan, statement = planned
    other_account = make.account()
    other = make.user("other@example.org", accounts=[other_account])
    client.post("/logout", data={"csrf_token": csrf_token(client, "/statements")})
    login_as(other)
    for url in (f"/payment-plans/{plan.public_id}", f"/payment-plans/{plan.public_id}/card",
                f"/payment-plans/{plan.public_id}/cancel", f"/statements/{statement.number}/payment-plan",
                f"/staff/payment-plans/{plan.public_id}"):
        assert client.get(url).status_code == 404, url
    response = submit(f"/payment-plans/{plan.public_id}/pay-ahead", {}, page="/payment-plans")
    assert response.status_code == 404
    db.session.refresh(plan)
    assert plan.status == "active" and db.session.scalar(select(Payment)) is None


# ------------------------------------------------------------------------------------------------ charging

def test_each_instalment_is_charged_on_its_date_after_a_notice_and_posted_with_a_receipt(planned, localstripe):
    plan, statement = planned
    charge = first_charge(plan)
    # Four days before: nothing yet. Three days before: the notice, once.
    assert charging.run(at(charge.due_on - timedelta(days=4))).notices == 0
    assert charging.run(at(charge.due_on - timedelta(days=3))).notices == 1
    assert charging.run(at(charge.due_on - timedelta(days=2))).notices == 0
    assert subjects()[-1] == "A payment plan charge is coming up"
    assert db.session.scalar(select(Payment)) is None

    report = charging.run(at(charge.due_on, 1))
    assert [c.id for c in report.paid] == [charge.id]
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert payment.status == "succeeded" and payment.amount == 8000 and payment.plan_charge_id == charge.id
    assert payment.stripe_payment_intent_id and payment.card_last4 == "4242"
    assert summary_for(statement).amount_due.minor == 24000
    assert services.left_to_pay(plan).minor == 24000
    assert subjects("receipt") == [f"Your payment receipt for statement {statement.number}"]
    assert first_charge(plan).status == "paid"


def test_a_run_repeated_or_overlapping_never_charges_twice(planned, localstripe):
    plan, _statement = planned
    charge = first_charge(plan)
    moment = at(charge.due_on)
    run_on(charge.due_on)
    charging.run(moment)
    assert charging.charge(charge.id, now=moment) == "paid"
    assert charging.charge(charge.id, now=moment, own_try=True) == "paid"
    payments = db.session.scalars(select(Payment)).all()
    assert len(payments) == 1
    assert len(intents_for(localstripe, payments[0])) == 1


def test_a_try_cut_short_after_stripe_charged_is_finished_without_charging_again(planned, localstripe):
    """A worker stopped after Stripe charged the card but before the answer was stored: the next run finds the
    charge at Stripe by its metadata and posts it, instead of charging again."""
    plan, statement = planned
    charge = first_charge(plan)
    moment = at(charge.due_on)
    charging.run(at(charge.due_on - timedelta(days=3)))
    assert charging._claim(charge, moment)
    db.session.refresh(charge)
    assert charging._start_try(charge, moment)
    payment = db.session.scalar(select(Payment))
    gateway.charge_saved_card(amount=payment.amount, currency=payment.currency,
                              customer=plan.account.stripe_customer_id, payment_method=plan.stripe_payment_method_id,
                              metadata={"portal_payment": payment.public_id}, idempotency_key="lost-answer")
    # Before the claim is stale, a run leaves it alone.
    charging.run(moment + timedelta(minutes=5))
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "pending"
    charging.run(moment + charging.STALE_CLAIM + timedelta(minutes=1))
    db.session.expire_all()
    payment = db.session.get(Payment, payment.id)
    assert payment.status == "succeeded"
    assert len(intents_for(localstripe, payment)) == 1
    assert db.session.get(PlanCharge, charge.id).status == "paid"
    assert summary_for(statement).amount_due.minor == 24000


@pytest.fixture
def staff(make):
    user = make.user("maria@example.org", role="staff")
    db.session.add(StaffProfile(user=user, display_name="Maria Santos", job_title="Billing specialist",
                                languages=["en", "es"], topics=["payment_plan"]))
    boss = make.user("boss@example.org", role="supervisor")
    db.session.add(StaffProfile(user=boss, display_name="Patricia Okafor", job_title="Supervisor", languages=["en"],
                                topics=[]))
    db.session.commit()
    return user, boss


def test_a_refused_instalment_is_retried_twice_over_a_week_then_the_plan_goes_to_a_named_staff_member(
        owing, login_as, submit, client, localstripe, staff, make):
    user, statement = owing
    login_as(user)
    plan = agree(submit, statement.number)
    save_card(client, localstripe, plan, card=DECLINED_AT_CHARGE)
    charge = first_charge(plan)
    due = charge.due_on

    run_on(due)
    charge = first_charge(plan)
    assert charge.status == "failed" and charge.next_attempt_on == due + timedelta(days=3)
    assert subjects()[-1] == "We could not charge your card for your payment plan"
    page = soup(client.get(f"/payment-plans/{plan.public_id}")).get_text(" ", strip=True)
    assert "Your card was refused" in page and "Change card" in page

    # Nothing happens between tries.
    charging.run(at(due + timedelta(days=2)))
    assert first_charge(plan).refusals == 1
    charging.run(at(due + timedelta(days=3)))
    assert first_charge(plan).next_attempt_on == due + timedelta(days=7)
    report = charging.run(at(due + timedelta(days=7)))
    assert report.broken and report.broken[0].id == plan.id

    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.status == "broken"
    assert all(c.status in ("missed", "cancelled") for c in plan.instalments)
    question = db.session.get(Question, plan.question_id)
    assert question.topic == "payment_plan" and question.assigned_staff_id == staff[0].id
    assert "refused 3 times" in question.messages[0].body
    assert subjects()[-1] == "Your payment plan has ended"
    assert len(db.session.scalars(select(Payment).where(Payment.status == "failed")).all()) == 3
    assert summary_for(statement).amount_due.minor == 32000

    # Maria sees it in her inbox and the plan from the question.
    desk = client.application.test_client()
    desk.post("/login", data={"email": "maria@example.org", "password": "correct horse battery",
                              "csrf_token": csrf_token(desk, "/login")})
    assert question.public_id in desk.get("/staff").get_data(as_text=True)
    thread = soup(desk.get(f"/staff/questions/{question.public_id}"))
    assert thread.find("a", href=f"/staff/payment-plans/{plan.public_id}") is not None
    assert desk.get(f"/staff/payment-plans/{plan.public_id}").status_code == 200


def test_a_new_card_after_a_refusal_is_tried_at_once(owing, login_as, submit, client, localstripe):
    user, statement = owing
    login_as(user)
    plan = agree(submit, statement.number)
    save_card(client, localstripe, plan, card=DECLINED_AT_CHARGE)
    run_on(first_charge(plan).due_on)
    assert first_charge(plan).status == "failed"

    response = save_card(client, localstripe, plan, card=GOOD_CARD)
    assert response.status_code == 302
    charge = first_charge(plan)
    assert charge.status == "paid"
    assert db.session.get(PaymentPlan, plan.id).card_last4 == "4242"
    assert summary_for(statement).amount_due.minor == 24000
    assert "We charged $80.00 to your new card." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_paying_ahead_charges_the_next_instalment_now(planned, submit, client):
    plan, statement = planned
    response = submit(f"/payment-plans/{plan.public_id}/pay-ahead", {}, page=f"/payment-plans/{plan.public_id}")
    assert response.status_code == 302
    assert first_charge(plan).status == "paid"
    assert summary_for(statement).amount_due.minor == 24000
    assert "We charged $80.00 to your card" in client.get(response.headers["Location"]).get_data(as_text=True)
    # The scheduled run later does not charge that instalment again.
    run_on(first_charge(plan).due_on)
    assert len(db.session.scalars(select(Payment)).all()) == 1


def test_the_last_instalment_pays_the_plan_off(planned, make):
    plan, statement = planned
    # Part paid another way: the plan charges only what is left and ends sooner.
    make.payment(statement, 10000)
    for charge in list(plan.instalments):
        run_on(charge.due_on)
    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.status == "completed"
    assert summary_for(statement).amount_due.minor == 0
    assert [c.status for c in plan.instalments] == ["paid", "paid", "paid", "skipped"]
    assert sum(p.amount for p in db.session.scalars(select(Payment).where(Payment.plan_charge_id.is_not(None)))) \
        == 22000


def test_a_new_statement_can_be_added_and_the_schedule_is_recomputed(planned, make, submit, client):
    plan, statement = planned
    run_on(first_charge(plan).due_on)  # 80.00 paid: 240.00 left
    newer = make.statement(plan.account, lines=1, insured=False)  # 80.00
    page = soup(client.get(f"/payment-plans/{plan.public_id}"))
    link = page.find("a", href=f"/payment-plans/{plan.public_id}/add/{newer.number}")
    assert link is not None
    url = f"/payment-plans/{plan.public_id}/add/{newer.number}"
    shown = submit(url, {"months": "4", "day": "20", "action": "preview"})
    assert shown.status_code == 200
    assert "$320.00" in shown.get_data(as_text=True)
    stale = submit(url, {"months": "4", "day": "20", "action": "agree", "agree": "y", "total": "40000"})
    assert stale.status_code == 400
    response = submit(url, {"months": "4", "day": "20", "action": "agree", "agree": "y", "total": "32000"})
    assert response.status_code == 302
    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    waiting = [c for c in plan.instalments if c.waiting]
    assert [c.amount for c in waiting] == [8000, 8000, 8000, 8000]
    assert all(c.due_on.day == 20 for c in waiting)
    assert len([c for c in plan.charges if c.status == "replaced"]) == 3
    assert {c.statement_id for c in plan.covered} == {statement.id, newer.id}
    assert services.left_to_pay(plan).minor == 32000
    # A statement that is not the account's cannot be added.
    stranger = make.statement(make.account(), lines=2, insured=False)
    assert client.get(f"/payment-plans/{plan.public_id}/add/{stranger.number}").status_code == 404


def test_the_patient_can_cancel_after_confirming(planned, submit, client):
    plan, statement = planned
    url = f"/payment-plans/{plan.public_id}/cancel"
    refused = submit(url, {})
    assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
    assert submit(url, {"confirm": "y"}).status_code == 302
    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.status == "cancelled" and plan.ended_by_user_id is not None
    assert all(c.status == "cancelled" for c in plan.instalments)
    run_on(plan.instalments[0].due_on)
    assert db.session.scalar(select(Payment)) is None
    assert summary_for(statement).amount_due.minor == 32000
    # With the plan over, the statement offers a new one.
    assert soup(client.get(f"/statements/{statement.number}")).find(
        "a", href=f"/statements/{statement.number}/payment-plan") is not None


def test_staff_cancel_with_a_reason_and_the_patient_is_told(planned, staff, app):
    plan, _statement = planned
    desk = app.test_client()
    desk.post("/login", data={"email": "boss@example.org", "password": "correct horse battery",
                              "csrf_token": csrf_token(desk, "/login")})
    listing = desk.get("/staff/payment-plans")
    assert f"/staff/payment-plans/{plan.public_id}" in listing.get_data(as_text=True)
    url = f"/staff/payment-plans/{plan.public_id}"
    token = csrf_token(desk, url)
    refused = desk.post(url, data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 400 and "Say why the plan is cancelled." in refused.get_data(as_text=True)
    response = desk.post(url, data={"csrf_token": token, "reason": "The balance went to financial assistance."})
    assert response.status_code == 302
    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.status == "cancelled" and plan.end_reason == "The balance went to financial assistance."
    assert subjects()[-1] == "Your payment plan was cancelled"
    # Staff who were not given the account do not see it.
    desk2 = app.test_client()
    desk2.post("/login", data={"email": "maria@example.org", "password": "correct horse battery",
                               "csrf_token": csrf_token(desk2, "/login")})
    assert desk2.get(url).status_code == 404


def test_autopay_charges_new_statements_up_to_the_cap_after_a_notice(planned, submit, client, make):
    plan, _statement = planned
    url = f"/payment-plans/{plan.public_id}/autopay"
    page = f"/payment-plans/{plan.public_id}"
    bad = submit(url, {"enabled": "on", "cap": "lots"}, page=page)
    assert bad.status_code == 400 and "Enter the amount as a number" in bad.get_data(as_text=True)
    assert submit(url, {"enabled": "on", "cap": "150.00"}, page=page).status_code == 302
    db.session.expire_all()
    assert db.session.get(PaymentPlan, plan.id).autopay_cap == 15000

    small = make.statement(plan.account, lines=1, insured=False, due_in_days=20)  # 80.00
    large = make.statement(plan.account, lines=2, insured=False, due_in_days=20)  # 160.00: above the cap
    today = date.today()
    report = charging.run(at(today))
    assert report.autopay_scheduled == 1
    autopay = db.session.scalar(select(PlanCharge).where(PlanCharge.kind == "autopay"))
    assert autopay.statement_id == small.id and autopay.due_on == small.due_date and autopay.amount == 8000
    charging.run(at(small.due_date - timedelta(days=3)))
    assert "A payment plan charge is coming up" in subjects()
    charging.run(at(small.due_date))
    db.session.expire_all()
    assert db.session.get(PlanCharge, autopay.id).status == "paid"
    assert summary_for(small).amount_due.minor == 0
    assert summary_for(large).amount_due.minor == 16000

    assert submit(url, {"enabled": "off", "cap": ""}, page=page).status_code == 302
    db.session.expire_all()
    assert db.session.get(PaymentPlan, plan.id).autopay_cap is None


def test_the_plan_run_is_registered_as_a_periodic_task(app):
    from portal.background import task_queue

    assert "plans.run" in task_queue(app).tasks


def test_flask_plans_run_reports_what_it_did(planned, runner):
    result = runner.invoke(args=["plans", "run"])
    assert result.exit_code == 0, result.output
    assert "notice(s) sent" in result.output


def test_the_card_secret_is_for_a_card_saved_for_later(planned, client, localstripe):
    plan, _statement = planned
    page = client.get(f"/payment-plans/{plan.public_id}/card").get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', page).group(1)
    _status, setup = stand_in(localstripe, f"/v1/setup_intents/{secret.split('_secret_')[0]}", secret_key=True)
    assert setup["usage"] == "off_session" and setup["metadata"]["portal_plan"] == plan.public_id
    assert STRIPE_KEYS["STRIPE_SECRET_KEY"] not in page


def test_a_payment_whose_notice_was_not_sent_waits_for_it(planned):
    """The worker was stopped over the notice day: the payment is not taken without the promised notice."""
    plan, _statement = planned
    due = first_charge(plan).due_on
    report = charging.run(at(due))
    assert report.notices == 1 and not report.paid
    charge = first_charge(plan)
    assert charge.next_attempt_on == due + timedelta(days=3) and charge.status == "scheduled"
    assert not charging.run(at(due + timedelta(days=2))).paid
    assert len(charging.run(at(due + timedelta(days=3))).paid) == 1


def test_a_card_saved_days_after_agreeing_moves_the_schedule_to_leave_time_for_the_notice(owing, login_as, submit,
                                                                                          client, localstripe):
    user, statement = owing
    login_as(user)
    plan = agree(submit, statement.number)
    first = plan.instalments[0].due_on
    # As if the patient agreed long ago: every date has passed by the time the card is saved.
    for n, charge in enumerate(plan.instalments):
        charge.due_on = charge.next_attempt_on = schedule.add_months(date(2025, 1, 10), n)
    db.session.commit()
    save_card(client, localstripe, plan)
    dates = [c.due_on for c in first_charge(plan).plan.instalments]
    assert dates[0] == first and dates == [schedule.add_months(first, n) for n in range(4)]


def test_a_payment_split_over_two_statements_leaves_no_piece_too_small_to_charge(make, login_as, submit, client,
                                                                                localstripe):
    """Two bills of 240.00 and 80.02 over 4 months: the payment that crosses from one to the other would leave 0.02
    on the second; it pays it off instead, and the last payment takes what is left."""
    account = make.account()
    older = make.statement(account, lines=3, insured=False, statement_date=date.today() - timedelta(days=40))
    newer = make.statement(account, lines=1, insured=False)
    make.payment(newer, 1, method="external")  # 79.99 left on it: 319.99 in all
    user = make.user(accounts=[account])
    login_as(user)
    plan = agree(submit, older.number, total=31999)
    save_card(client, localstripe, plan)
    assert [c.amount for c in plan.instalments] == [7999, 7999, 7999, 8002]
    for charge in list(first_charge(plan).plan.instalments):
        run_on(charge.due_on)
    db.session.expire_all()
    amounts = [(p.statement_id, p.amount) for p in db.session.scalars(
        select(Payment).where(Payment.plan_charge_id.is_not(None)).order_by(Payment.id))]
    assert all(amount >= 100 for _statement, amount in amounts)
    assert sum(amount for _statement, amount in amounts) == 31999
    assert summary_for(older).amount_due.minor == 0 and summary_for(newer).amount_due.minor == 0
    assert db.session.get(PaymentPlan, plan.id).status == "completed"


def test_an_autopay_limit_beyond_what_can_be_stored_is_refused_with_a_message(planned, submit):
    plan, _statement = planned
    page = f"/payment-plans/{plan.public_id}"
    response = submit(f"/payment-plans/{plan.public_id}/autopay", {"enabled": "on", "cap": "99999999999.00"}, page=page)
    assert response.status_code == 400
    assert "Enter an amount up to $21,474,836.47." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PaymentPlan, plan.id).autopay_cap is None


def test_cancelling_while_a_payment_is_being_taken_is_refused_and_changes_nothing(planned, submit):
    plan, _statement = planned
    charge = first_charge(plan)
    assert charging._claim(charge, at(charge.due_on))
    response = submit(f"/payment-plans/{plan.public_id}/cancel", {"confirm": "y"})
    assert response.status_code == 400
    assert "being taken right now" in response.get_data(as_text=True)
    db.session.expire_all()
    plan = db.session.get(PaymentPlan, plan.id)
    assert plan.status == "active"
    assert [c.status for c in plan.instalments] == ["charging", "scheduled", "scheduled", "scheduled"]
