"""Payment plans on the web: setting one up from a statement, its card, its page (pay ahead, autopay, add a
statement, cancel), and the billing office's view of plans, where staff can cancel one with a reason."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.web import audit
from ..billing.access import current_viewer, statement_for
from ..billing.models import Account
from ..billing.services import organisation_today
from ..extensions import db
from ..http_headers import card_form_policy
from ..i18n import _, _l, current_locale, ngettext
from ..money import AmountError, Money, parse_amount
from ..payments import stripe_gateway as gateway
from ..payments.forms import CardForm
from ..payments.views import decline_message
from ..questions.forms import options
from ..questions.models import Question
from . import charging, notify, schedule, services, wording
from .forms import AGREE, AutopayForm, ButtonForm, CancelForm, NewPlanForm, ScheduleForm, StaffCancelForm
from .models import PaymentPlan

bp = Blueprint("plans", __name__)


@bp.record_once
def _register_globals(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    wording.register(state.app)


# Why a schedule or a change cannot be made, in the patient's words; amounts are filled in when shown.
REFUSALS = {
    "below_threshold": _l("A payment plan is for balances over %(threshold)s."),
    "day": _l("Choose a day from 1 to %(last)s."),
    "too_few_months": _l("Choose at least 2 monthly payments."),
    "too_many_months": _l("Choose at most %(maximum)s monthly payments."),
    "below_minimum_monthly": _l("Each monthly payment must be at least %(minimum)s. Choose fewer months."),
    "total_changed": _l("Your balance has changed since you saw this schedule. Check the new schedule below, "
                        "then agree to it."),
    "already_open": _l("This account already has a payment plan."),
    "not_open": _l("This payment plan has ended, so it cannot be changed."),
    "not_addable": _l("This statement cannot be added to the plan: it is already in a plan or has nothing to pay."),
    "charging": _l("A payment of this plan is being taken right now. Try again in a few minutes."),
    "card_not_set_up": _l("We could not use that card. Please enter it again."),
    "cap_not_positive": _l("Enter an amount more than zero."),
    "cap_too_large": _l("Enter an amount up to %(largest)s."),
    "must_agree": _l("Tick the box to agree to the schedule."),
}
MONEY_VALUES = ("threshold", "minimum", "largest")


def _refusal(reason: str, values: dict[str, int], currency: str) -> str:
    text = REFUSALS[reason]
    shown = {name: Money(value, currency).format(current_locale()) if name in MONEY_VALUES else value
             for name, value in values.items()}
    return str(text) % shown if shown else str(text)


def _own_plan(public_id: str) -> PaymentPlan:
    """The signed-in patient's plan, else 404 (staff use the billing office's pages)."""
    plan = services.plan_by_public_id(public_id)
    viewer = current_viewer()
    if plan is None or viewer.is_staff or plan.account_id not in viewer.account_ids:
        abort(404)
    return plan


def _month_choices(form: ScheduleForm, total: int, currency: str, *, revision: bool) -> None:
    """Each choice reads as what the patient pays: "6 payments: all of $50.00 but the last, which is $50.02"."""
    choices = []
    for months in schedule.month_choices(total, services.rules(), revision=revision):
        each = Money(total // months, currency).format(current_locale())
        last = Money(total - (total // months) * (months - 1), currency).format(current_locale())
        if each == last:
            label = ngettext("%(num)d payment of %(amount)s", "%(num)d payments of %(amount)s", months, amount=each)
        else:
            label = ngettext("%(num)d payments: all of %(amount)s but the last, which is %(last)s",
                             "%(num)d payments: all of %(amount)s but the last, which is %(last)s", months,
                             amount=each, last=last)
        choices.append((months, label))
    form.months.choices = options(choices)


@dataclass(frozen=True)
class Row:
    due_on: date
    money: Money


@dataclass(frozen=True)
class Shown:
    """A schedule as the page shows it."""

    rows: list[Row]
    total: Money


def _try_schedule(form: ScheduleForm, total: int, today: date, currency: str, *, revision: bool) -> Shown | None:
    """The schedule for the form's choices, or None with the reason on the form."""
    try:
        instalments = services.preview(total, form.months.data, form.day.data, today, revision=revision)
    except schedule.ScheduleRefused as error:
        target = form.day.errors if error.reason == "day" else form.months.errors
        if revision and error.reason == "too_few_months":
            # A recomputed schedule may be a single payment: "at least 2" would be wrong here.
            target.append(str(form.months.validators[0].message))
        else:
            target.append(_refusal(error.reason, error.values, currency))
        return None
    return Shown([Row(i.due_on, Money(i.amount, currency)) for i in instalments], Money(total, currency))


@bp.route("/statements/<number>/payment-plan", methods=["GET", "POST"])
def new(number: str):
    # Only for a signed-in patient's own bill; anyone else is told the bill does not exist (no sign-in page
    # that would repeat the number back).
    viewer = current_viewer()
    statement = statement_for(viewer, number)
    if statement is None or viewer.is_staff or statement.account_id not in viewer.account_ids:
        abort(404)
    account = statement.account
    existing = services.open_plan_for(account.id)
    if existing is not None and existing.status == "active":
        return redirect(url_for("plans.plan", public_id=existing.public_id))
    offer = services.offer(account)
    form = NewPlanForm()
    today = organisation_today(account.organisation)
    if request.method == "GET":
        form.email.data = current_user.email
        form.day.data = min(today.day, schedule.LAST_DAY)
    if not offer.eligible:
        return render_template("plans/new.html", offer=offer, form=None, statement=statement, instalments=None)
    _month_choices(form, offer.total.minor, offer.total.currency, revision=False)
    instalments = None
    code = 200
    if form.is_submitted():
        code = 400
        if form.validate():
            instalments = _try_schedule(form, offer.total.minor, today, offer.total.currency, revision=False)
            if instalments is not None and request.form.get("action") == AGREE:
                plan = _agree(form, account, offer)
                if plan is not None:
                    return redirect(url_for("plans.card", public_id=plan.public_id))
            elif instalments is not None:
                code = 200
        form.total.data = offer.total.minor
    else:
        form.total.data = offer.total.minor
    return render_template("plans/new.html", offer=offer, form=form, statement=statement,
                           instalments=instalments), code


def _agree(form: NewPlanForm, account, offer: services.Offer) -> PaymentPlan | None:  # noqa: ANN001 (an Account)
    if form.total.data != offer.total.minor:
        form.form_errors.append(_refusal("total_changed", {}, offer.total.currency))
        return None
    if not form.agree.data:
        form.agree.errors.append(str(REFUSALS["must_agree"]))
        return None
    try:
        plan = services.create_plan(account, expected_total=form.total.data, months=form.months.data,
                                    day=form.day.data, email=form.email.data.strip(), locale=current_locale(),
                                    user=current_user)
    except services.PlanRefused as error:
        db.session.rollback()
        form.form_errors.append(_refusal(error.reason, error.values, offer.total.currency))
        return None
    except schedule.ScheduleRefused as error:
        db.session.rollback()
        form.months.errors.append(_refusal(error.reason, error.values, offer.total.currency))
        return None
    audit("payment_plan.agreed", "payment_plan", plan.id)
    db.session.commit()
    return plan


def _card_page(plan: PaymentPlan, form: CardForm, secret: str, error: str | None, status: int):
    response = make_response(render_template("plans/card.html", plan=plan, form=form, client_secret=secret,
                                             error=error, left=services.left_to_pay(plan)), status)
    response.headers["Content-Security-Policy"] = card_form_policy(current_app.config)
    return response


@bp.route("/payment-plans/<public_id>/card", methods=["GET", "POST"])
@login_required
def card(public_id: str):
    plan = _own_plan(public_id)
    # A paid-off plan keeps its card for autopay, which may need a new one.
    if plan.status not in ("awaiting_card", "active") and not (plan.status == "completed" and plan.has_card):
        return redirect(url_for("plans.plan", public_id=plan.public_id))
    if not gateway.enabled():
        abort(503)
    form = CardForm()
    message = None
    if form.validate_on_submit():
        try:
            started = services.save_card(plan, form.setup_intent.data)
        except services.PlanRefused as error:
            db.session.rollback()
            message = _refusal(error.reason, error.values, plan.currency)
        except gateway.GatewayError:
            db.session.rollback()
            return render_template("plans/unavailable.html", plan=plan), 503
        else:
            audit("payment_plan.card_saved", "payment_plan", plan.id)
            if started:
                notify.agreed(plan)
            db.session.commit()
            if started:
                flash(_("Your payment plan is set up. We have emailed you the schedule."), "success")
            else:
                flash(_("Your new card is saved. It will be used for the next payments."), "success")
                _retry_refused(plan)
            return redirect(url_for("plans.plan", public_id=plan.public_id))
    elif form.is_submitted():
        message = next(iter(form.setup_intent.errors), None)
    try:
        secret = services.card_form_secret(plan)
        db.session.commit()
    except gateway.GatewayError:
        db.session.rollback()
        return render_template("plans/unavailable.html", plan=plan), 503
    return _card_page(plan, form, secret, message, 400 if message else 200)


def _retry_refused(plan: PaymentPlan) -> None:
    """A new card: try the refused charges on it now, so that the patient sees at once whether it worked."""
    for item in services.refused_charges(plan):
        status = charging.charge(item.id, own_try=True)
        if status == "paid":
            flash(_("We charged %(amount)s to your new card.",
                    amount=Money(charging.paid_on(item), plan.currency).format(current_locale())), "success")
        elif status in ("failed", "scheduled"):
            flash(_("Your new card was refused too: %(reason)s", reason=decline_message(item.failure_code)),
                  "error")


@bp.route("/payment-plans")
@login_required
def plans():
    viewer = current_viewer()
    if viewer.is_staff:
        return redirect(url_for("plans.staff_plans"))
    account = db.session.scalar(select(Account).where(Account.id.in_(viewer.account_ids)).limit(1)) \
        if viewer.account_ids else None
    threshold = Money(services.rules().threshold, account.organisation.currency) if account else None
    return render_template("plans/list.html", plans=services.plans_for_accounts(viewer.account_ids),
                           threshold=threshold)


def _plan_page(plan: PaymentPlan, *, staff: bool, autopay_form: AutopayForm | None = None,
               staff_form: StaffCancelForm | None = None, code: int = 200):
    autopay_form = autopay_form or AutopayForm()
    if request.method == "GET" and plan.autopay_cap is not None:
        autopay_form.enabled.data = "on"
        autopay_form.cap.data = Money(plan.autopay_cap, plan.currency).format(current_locale())
    elif request.method == "GET":
        autopay_form.enabled.data = "off"
    question = db.session.get(Question, plan.question_id) if plan.question_id else None
    question_link = None
    if question is not None:
        question_link = url_for("staff.question" if staff else "questions.thread", public_id=question.public_id)
    return render_template("plans/plan.html", plan=plan, staff=staff, left=services.left_to_pay(plan),
                           question_link=question_link,
                           paid=services.paid_so_far(plan), next_instalment=services.next_instalment(plan),
                           addable=services.addable(plan) if plan.status == "active" else [],
                           button=ButtonForm(), autopay_form=autopay_form,
                           staff_form=staff_form or StaffCancelForm()), code


@bp.route("/payment-plans/<public_id>")
@login_required
def plan(public_id: str):
    plan = _own_plan(public_id)
    audit("payment_plan.viewed", "payment_plan", plan.id)
    db.session.commit()
    return _plan_page(plan, staff=False)


@bp.route("/payment-plans/<public_id>/pay-ahead", methods=["POST"])
@login_required
def pay_ahead(public_id: str):
    plan = _own_plan(public_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    item = services.next_instalment(plan)
    if plan.status != "active" or item is None or not plan.has_card:
        flash(str(REFUSALS["not_open"]), "error")
        return redirect(url_for("plans.plan", public_id=plan.public_id))
    audit("payment_plan.paid_ahead", "payment_plan", plan.id)
    db.session.commit()
    status = charging.charge(item.id, own_try=True)
    if status == "paid":
        flash(_("Thank you. We charged %(amount)s to your card. We have emailed you a receipt.",
                amount=Money(charging.paid_on(item), plan.currency).format(current_locale())), "success")
    elif status == "skipped":
        flash(_("There was nothing left to pay on this plan."), "success")
    elif status == "charging":
        flash(_("Your payment is being processed. This page will show it once your bank confirms it."), "success")
    else:
        flash(_("Your card was refused: %(reason)s", reason=decline_message(item.failure_code)), "error")
    return redirect(url_for("plans.plan", public_id=plan.public_id))


@bp.route("/payment-plans/<public_id>/autopay", methods=["POST"])
@login_required
def autopay(public_id: str):
    plan = _own_plan(public_id)
    form = AutopayForm()
    if not form.validate_on_submit():
        return _plan_page(plan, staff=False, autopay_form=form, code=400)
    cap = None
    if form.enabled.data == "on":
        try:
            cap = parse_amount(form.cap.data or "", plan.currency, current_locale())
        except AmountError:
            form.cap.errors.append(_("Enter the amount as a number, for example %(example)s.",
                                     example=Money(20000, plan.currency).format(current_locale())))
            return _plan_page(plan, staff=False, autopay_form=form, code=400)
    try:
        services.set_autopay(plan, cap)
    except services.PlanRefused as error:
        db.session.rollback()
        form.cap.errors.append(_refusal(error.reason, error.values, plan.currency))
        return _plan_page(plan, staff=False, autopay_form=form, code=400)
    audit("payment_plan.autopay_changed", "payment_plan", plan.id)
    db.session.commit()
    if cap is None:
        flash(_("Autopay is off. New statements are not charged automatically."), "success")
    else:
        flash(ngettext("Autopay is on: each new statement up to %(amount)s is charged on its due date, after an "
                       "email %(num)d day before.",
                       "Autopay is on: each new statement up to %(amount)s is charged on its due date, after an "
                       "email %(num)d days before.", int(current_app.config["PAYMENT_PLAN_NOTICE_DAYS"]),
                       amount=cap.format(current_locale())), "success")
    return redirect(url_for("plans.plan", public_id=plan.public_id))


@bp.route("/payment-plans/<public_id>/add/<number>", methods=["GET", "POST"])
def add(public_id: str, number: str):
    # Not found rather than a sign-in page that would repeat the statement number back.
    if not current_user.is_authenticated:
        abort(404)
    plan = _own_plan(public_id)
    summary = next((s for s in services.addable(plan) if s.statement.number == number), None)
    if summary is None or plan.status != "active":
        abort(404)
    total = services.revision_total(plan, summary)
    form = ScheduleForm()
    today = organisation_today(plan.account.organisation)
    if request.method == "GET":
        form.day.data = plan.day_of_month
    _month_choices(form, total, plan.currency, revision=True)
    instalments = None
    code = 200
    if form.is_submitted():
        code = 400
        if form.validate():
            instalments = _try_schedule(form, total, today, plan.currency, revision=True)
            if instalments is not None and request.form.get("action") == AGREE:
                if form.total.data != total:
                    form.form_errors.append(_refusal("total_changed", {}, plan.currency))
                elif not form.agree.data:
                    form.agree.errors.append(str(REFUSALS["must_agree"]))
                else:
                    try:
                        services.add_statement(plan, summary, expected_total=form.total.data,
                                               months=form.months.data, day=form.day.data)
                    except (services.PlanRefused, schedule.ScheduleRefused) as error:
                        db.session.rollback()
                        form.form_errors.append(_refusal(error.reason, error.values, plan.currency))
                    else:
                        audit("payment_plan.statement_added", "payment_plan", plan.id)
                        db.session.commit()
                        flash(_("Statement %(number)s is now in your payment plan. Here is the new schedule.",
                                number=number), "success")
                        return redirect(url_for("plans.plan", public_id=plan.public_id))
            elif instalments is not None:
                code = 200
    form.total.data = total
    return render_template("plans/add.html", plan=plan, summary=summary, total=Money(total, plan.currency),
                           form=form, instalments=instalments), code


@bp.route("/payment-plans/<public_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(public_id: str):
    plan = _own_plan(public_id)
    if plan.status not in ("awaiting_card", "active"):
        return redirect(url_for("plans.plan", public_id=plan.public_id))
    form = CancelForm()
    if form.validate_on_submit():
        try:
            services.cancel(plan, user=current_user)
        except services.PlanRefused as error:
            db.session.rollback()
            form.form_errors.append(_refusal(error.reason, error.values, plan.currency))
        else:
            audit("payment_plan.cancelled", "payment_plan", plan.id)
            db.session.commit()
            flash(_("Your payment plan is cancelled. Nothing more will be charged. What is left stays on your "
                    "statements."), "success")
            return redirect(url_for("plans.plan", public_id=plan.public_id))
    return render_template("plans/cancel.html", plan=plan, form=form, left=services.left_to_pay(plan)), \
        400 if form.is_submitted() else 200


# ------------------------------------------------------------------------------------------ billing office

def _staff_plan(public_id: str) -> PaymentPlan:
    """A plan a member of staff may see: supervisors every one; others those on a bill they were given."""
    if not (current_user.is_authenticated and current_user.is_staff):
        abort(404)
    plan = services.plan_by_public_id(public_id)
    viewer = current_viewer()
    if plan is None or not any(viewer.may_see(c.statement) for c in plan.covered):
        abort(404)
    return plan


@bp.route("/staff/payment-plans")
@login_required
def staff_plans():
    if not current_user.is_staff:
        abort(404)
    viewer = current_viewer()
    plans = services.plans_for_staff(None if viewer.is_supervisor else viewer.assigned_statement_ids)
    return render_template("plans/staff_list.html", plans=plans)


@bp.route("/staff/payment-plans/<public_id>", methods=["GET", "POST"])
@login_required
def staff_plan(public_id: str):
    plan = _staff_plan(public_id)
    form = StaffCancelForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _plan_page(plan, staff=True, staff_form=form, code=400)
        try:
            services.cancel(plan, user=current_user, reason=form.reason.data.strip())
        except services.PlanRefused as error:
            db.session.rollback()
            form.reason.errors.append(_refusal(error.reason, error.values, plan.currency))
            return _plan_page(plan, staff=True, staff_form=form, code=400)
        notify.cancelled(plan, services.left_to_pay(plan))
        audit("payment_plan.cancelled", "payment_plan", plan.id)
        db.session.commit()
        flash(_("The plan is cancelled and the patient has been emailed why."), "success")
        return redirect(url_for("plans.staff_plan", public_id=plan.public_id))
    audit("payment_plan.viewed", "payment_plan", plan.id)
    db.session.commit()
    return _plan_page(plan, staff=True)
