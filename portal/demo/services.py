"""Load the demo hospital into the database (idempotent: a second run changes nothing)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..assistance import services as assistance_services
from ..auth.models import User, UserAccount
from ..auth.passwords import hash_password
from ..billing.models import Account, GoodFaithEstimate, LineItem, Organisation, Patient, Statement, Visit
from ..billing.services import organisation_today, summary_for
from ..disputes import services as dispute_services
from ..extensions import db
from ..payments.models import Payment
from ..questions import services as question_services
from ..questions.models import StaffProfile
from . import data


def adjudicate(service: str, quantity: int, plan: data.Plan | None, *, first_in_visit: bool,
               emergency: bool, deductible_left: list[int]) -> dict[str, int | None]:
    """Work out one line's amounts in whole cents; its parts always add up to its charge.

    ``deductible_left`` is a one-item list so that the deductible used is carried from line to line.
    """
    charge = data.SERVICES[service][3] * quantity
    if plan is None:
        return {"charge": charge, "allowed": None,
                "adjustment": charge * data.SELF_PAY_DISCOUNT_PERCENT // 100}
    if service in plan.not_covered:
        return {"charge": charge, "allowed": 0, "not_covered": charge}
    allowed = charge * plan.allowed_percent // 100
    copay = 0
    if first_in_visit and service in data.VISIT_CODES:
        copay = min(plan.copay_emergency if emergency else plan.copay_office, allowed)
    rest = allowed - copay
    deductible = min(deductible_left[0], rest)
    deductible_left[0] -= deductible
    rest -= deductible
    coinsurance = rest * plan.coinsurance_percent // 100
    return {"charge": charge, "allowed": allowed, "adjustment": charge - allowed, "copay": copay,
            "deductible": deductible, "coinsurance": coinsurance, "insurance_paid": rest - coinsurance}


def _add_statement(spec: data.StatementSpec, account: Account, patients: dict[str, Patient], today: date,
                   deductible_left: list[int]) -> Statement:
    statement_date = today - timedelta(days=spec.days_ago)
    statement = Statement(number=spec.number, account=account, statement_date=statement_date,
                          due_date=statement_date + timedelta(days=spec.due_in_days),
                          currency=account.organisation.currency)
    db.session.add(statement)
    plan = data.PLANS[spec.plan] if spec.plan else None
    for visit_spec in spec.visits:
        start = statement_date - timedelta(days=visit_spec.days_before_statement)
        visit = Visit(statement=statement, patient=patients[visit_spec.patient], visit_date=start,
                      end_date=start + timedelta(days=visit_spec.days - 1) if visit_spec.days > 1 else None,
                      facility=visit_spec.facility, department=visit_spec.department,
                      provider=visit_spec.provider, payer=plan.name if plan else None)
        db.session.add(visit)
        if visit_spec.estimate:
            amount, days_before = visit_spec.estimate
            visit.estimate = GoodFaithEstimate(amount=amount, currency=statement.currency,
                                               given_on=start - timedelta(days=days_before))
        count = len(visit_spec.services)
        for position, (service, quantity) in enumerate(visit_spec.services):
            system, code, description, _unit = data.SERVICES[service]
            amounts = adjudicate(service, quantity, plan, first_in_visit=position == 0,
                                 emergency=visit_spec.department == "Emergency", deductible_left=deductible_left)
            visit.lines.append(LineItem(
                position=position, service_date=start + timedelta(days=position * visit_spec.days // count),
                code_system=system, code=code, description=description, quantity=quantity, **amounts))
    db.session.flush()
    return statement


def _pay_in_full(statement: Statement, organisation: Organisation) -> None:
    owed = summary_for(statement).amount_due.minor
    if owed <= 0:
        return
    # Paid at the front desk a few days after the bill was sent, at noon hospital time.
    paid_on = statement.statement_date + timedelta(days=9)
    when = datetime.combine(paid_on, time(12, 0), ZoneInfo(organisation.time_zone)).astimezone(timezone.utc)
    db.session.add(Payment(statement=statement, amount=owed, currency=statement.currency, status="succeeded",
                           method="external", created_at=when, succeeded_at=when))


def load_demo(now: datetime | None = None) -> bool:
    """Create the demo hospital, households, statements and staff; return False if they are there already."""
    if db.session.scalar(select(Organisation).where(Organisation.slug == data.ORGANISATION["slug"])):
        return False
    organisation = Organisation(**data.ORGANISATION)
    db.session.add(organisation)
    today = organisation_today(organisation, now)
    for household in data.HOUSEHOLDS:
        account = Account(organisation=organisation, number=household.account_number,
                          guarantor_name=household.guarantor_name, mailing_address=household.mailing_address,
                          preferred_locale=household.locale)
        db.session.add(account)
        patients = {mrn: Patient(account=account, mrn=mrn, given_name=given, family_name=family,
                                 birth_date=date.fromisoformat(born))
                    for mrn, given, family, born in household.patients}
        db.session.add_all(patients.values())
        deductible_left = [household.deductible_left]
        # Oldest first, so that the deductible is used up in the order the care happened.
        for spec in sorted(household.statements, key=lambda s: -s.days_ago):
            statement = _add_statement(spec, account, patients, today, deductible_left)
            if spec.paid_in_full:
                _pay_in_full(statement, organisation)
        if household.login:
            email, password = household.login
            user = User(email=email, password_hash=hash_password(password), role="patient",
                        locale=household.locale)
            db.session.add(user)
            db.session.flush()
            db.session.add(UserAccount(user_id=user.id, account_id=account.id))
    for email, role, name, title, languages, topics, departments in data.STAFF:
        password = data.SUPERVISOR_PASSWORD if role == "supervisor" else data.STAFF_PASSWORD
        user = User(email=email, password_hash=hash_password(password), role=role, locale="en")
        db.session.add(user)
        db.session.add(StaffProfile(user=user, display_name=name, job_title=title, languages=languages,
                                    topics=topics, departments=departments))
    db.session.flush()
    _ask_questions(now)
    _dispute_charges(now)
    _apply_for_assistance(now)
    return True


def _ask_questions(now: datetime | None) -> None:
    # Through the real service, so that each is routed by the rules and carries its reason.
    now = now or datetime.now(timezone.utc)
    for number, position, topic, language, message, hours_ago in data.QUESTIONS:
        statement = db.session.scalar(select(Statement).where(Statement.number == number))
        line = None
        if position is not None:
            line = [line for visit in statement.visits for line in visit.lines][position]
        account = statement.account
        login = db.session.scalar(select(User).join(UserAccount).where(UserAccount.account_id == account.id))
        question_services.ask(statement, line, question_services.NewQuestion(
            topic, message, language, "email", contact_email=login.email if login else "patient@example.org"),
            user=login, now=now - timedelta(hours=hours_ago))
        db.session.flush()


def _dispute_charges(now: datetime | None) -> None:
    # Through the real services too: routed to a named person, and a decided one taken off the balance.
    now = now or datetime.now(timezone.utc)
    for number, position, reason, language, message, hours_ago, decision in data.DISPUTES:
        statement = db.session.scalar(select(Statement).where(Statement.number == number))
        line = [line for visit in statement.visits for line in visit.lines][position]
        opened = dispute_services.open_dispute(statement, line, reason, question_services.NewQuestion(
            "dispute", message, language, "phone", contact_phone="+1 217-555-0148"), user=None,
            now=now - timedelta(hours=hours_ago))
        if decision is not None:
            outcome, amount, note = decision
            resolver = db.session.get(User, opened.question.assigned_staff_id)
            dispute_services.resolve(opened, outcome=outcome, note=note, amount=amount, by=resolver,
                                     now=now - timedelta(hours=hours_ago - 4))


def _apply_for_assistance(now: datetime | None) -> None:
    # Screened and routed as a patient's own application is; the account's collection goes on hold.
    now = now or datetime.now(timezone.utc)
    for number, size, income, language, message, hours_ago in data.ASSISTANCE:
        statement = db.session.scalar(select(Statement).where(Statement.number == number))
        question = question_services.NewQuestion("financial_assistance", message, language, "phone",
                                                 contact_phone="+1 217-555-0190")
        assistance_services.apply(statement, assistance_services.NewApplication(size, income, question), user=None,
                                  now=now - timedelta(hours=hours_ago))
