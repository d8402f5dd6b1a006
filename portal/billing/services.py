"""Billing use cases: balances, statement status, totals, and which statements a viewer may see."""
from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..disputes.services import LineDisputeView, disputes_on
from ..disputes.wording import status_sentence
from ..extensions import db
from ..glossary.services import ServiceName, service_names
from ..glossary.why import explain_credit, explain_line, explain_statement
from ..money import Money
from ..payments.models import SETTLED_STATUSES, Payment
from . import estimates
from .estimates import EstimateComparison
from .models import Account, BalanceAdjustment, LineItem, Organisation, Patient, Statement, Visit

# The columns of the insurance breakdown, in the order a bill reads.
AMOUNT_FIELDS = ("charge", "allowed", "insurance_paid", "adjustment", "deductible", "copay", "coinsurance",
                 "not_covered", "patient_owes")

STATUS_DUE, STATUS_OVERDUE, STATUS_PAID = "due", "overdue", "paid"


def _patient_owes_subquery():
    """What the patient owes on a statement's lines: the charge less insurance and adjustments."""
    return (
        select(func.coalesce(func.sum(LineItem.charge - LineItem.insurance_paid - LineItem.adjustment), 0))
        .join(Visit, LineItem.visit_id == Visit.id)
        .where(Visit.statement_id == Statement.id)
        .correlate(Statement)
        .scalar_subquery()
    )


def _credited_subquery():
    """What the billing office took off a statement in the portal (``BalanceAdjustment``)."""
    return (
        select(func.coalesce(func.sum(BalanceAdjustment.amount), 0))
        .where(BalanceAdjustment.statement_id == Statement.id)
        .correlate(Statement)
        .scalar_subquery()
    )


def _paid_subquery():
    """Money received against a statement, net of refunds."""
    return (
        select(func.coalesce(func.sum(Payment.amount - Payment.amount_refunded), 0))
        .where(Payment.statement_id == Statement.id, Payment.status.in_(SETTLED_STATUSES))
        .correlate(Statement)
        .scalar_subquery()
    )


@functools.cache
def balances_query() -> Select:
    """Select (Statement, patient_owes, credited, paid) rows: every balance in one SQL query.

    Built once per process (a Select is immutable: callers add their own ``where`` to a copy); building its two
    subqueries afresh cost more than some of the queries a page sends."""
    return select(Statement, _patient_owes_subquery().label("owes"), _credited_subquery().label("credited"),
                  _paid_subquery().label("paid"))


@dataclass(frozen=True)
class StatementSummary:
    statement: Statement
    patient_owes: Money
    paid: Money
    today: date
    # Taken off by the billing office in the portal, after what the lines leave the patient to pay.
    credited: Money | None = None

    @property
    def amount_due(self) -> Money:
        owes = self.patient_owes - self.credited if self.credited is not None else self.patient_owes
        return owes - self.paid

    @property
    def status(self) -> str:
        if not self.amount_due.is_positive:
            return STATUS_PAID
        return STATUS_OVERDUE if self.today > self.statement.due_date else STATUS_DUE

    @property
    def patient_names(self) -> list[str]:
        seen: dict[int, str] = {}
        for visit in self.statement.visits:
            seen.setdefault(visit.patient_id, visit.patient.full_name)
        return list(seen.values())


def organisation_today(organisation: Organisation, now: datetime | None = None) -> date:
    """Today's date where the hospital is: a bill is overdue by the hospital's calendar."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(ZoneInfo(organisation.time_zone)).date()


def _summaries(query: Select, now: datetime | None) -> list[StatementSummary]:
    query = query.options(
        # Many-to-one and never null: joined into the same query rather than two more round trips.
        joinedload(Statement.account, innerjoin=True).joinedload(Account.organisation, innerjoin=True),
        selectinload(Statement.visits).joinedload(Visit.patient, innerjoin=True),
    )
    today_by_org: dict[int, date] = {}
    result = []
    for statement, owes, credited, paid in db.session.execute(query).all():
        org = statement.account.organisation
        if org.id not in today_by_org:
            today_by_org[org.id] = organisation_today(org, now)
        result.append(StatementSummary(statement, Money(int(owes), statement.currency),
                                       Money(int(paid), statement.currency), today_by_org[org.id],
                                       Money(int(credited), statement.currency)))
    return result


def summaries_for_accounts(account_ids: Collection[int], now: datetime | None = None) -> list[StatementSummary]:
    """Summaries of every statement of these accounts, newest first."""
    if not account_ids:
        return []
    query = (balances_query().where(Statement.account_id.in_(account_ids))
             .order_by(Statement.statement_date.desc(), Statement.id.desc()))
    return _summaries(query, now)


def summary_for(statement: Statement, now: datetime | None = None) -> StatementSummary:
    """The statement's balance and status."""
    return _summaries(balances_query().where(Statement.id == statement.id), now)[0]


@dataclass(frozen=True)
class Breakdown:
    """Totals of each amount column over some lines, as Money; ``credited`` is what the billing office took off
    them in the portal since (not part of ``patient_owes``, which is what the hospital's bill says)."""

    currency: str
    totals: dict[str, int]
    insured: bool
    credited: int = 0

    @property
    def owes_after_credits(self) -> Money:
        return Money(self.totals["patient_owes"] - self.credited, self.currency)

    def __getitem__(self, field: str) -> Money:
        return Money(self.totals[field], self.currency)


def breakdown(lines: Iterable[LineItem], currency: str, credits: Mapping[int, int] | None = None) -> Breakdown:
    """Add up every amount column of ``lines``; ``allowed`` counts insured lines only. ``credits``: what the
    billing office took off each line in the portal, by line id."""
    totals = dict.fromkeys(AMOUNT_FIELDS, 0)
    insured = False
    credited = 0
    for line in lines:
        insured = insured or line.insured
        for field in AMOUNT_FIELDS:
            totals[field] += line.minor(field)
        if credits:
            credited += credits.get(line.id, 0)
    return Breakdown(currency, totals, insured, credited)


@dataclass(frozen=True)
class StatementPage:
    """Everything a statement page shows: balance, visits with their totals, names and explanations."""

    summary: StatementSummary
    visits: list[tuple[Visit, Breakdown]]
    totals: Breakdown
    payments: list[Payment]
    names: dict[int, ServiceName]
    why_lines: dict[int, list[str]]
    why_statement: list[str]
    settled: bool
    # Self-pay visits with a good faith estimate on file, by visit id.
    estimates: dict[int, EstimateComparison] = dataclass_field(default_factory=dict)
    # What the billing office took off in the portal, by line id (the totals hold all of it).
    credits: dict[int, int] = dataclass_field(default_factory=dict)
    # Each disputed line's latest dispute, and the sentence saying where it stands, by line id.
    disputes: dict[int, LineDisputeView] = dataclass_field(default_factory=dict)
    dispute_sentences: dict[int, str] = dataclass_field(default_factory=dict)


def statement_page(statement: Statement, locale: str, now: datetime | None = None) -> StatementPage:
    """Load a statement with every line, named and explained in plain language in ``locale``.

    Five queries: the visits with their patients, their lines, the payments, the billing office's adjustments and
    the disputes. The balance is added up from those rows, as the balance query adds it up in SQL for lists
    (``balances_query``): what the lines leave the patient to pay, less the adjustments, less settled payments
    net of refunds."""
    currency = statement.currency
    visits = db.session.scalars(select(Visit).where(Visit.statement_id == statement.id)
                                .options(joinedload(Visit.patient, innerjoin=True), joinedload(Visit.estimate),
                                         selectinload(Visit.lines))
                                .order_by(Visit.visit_date, Visit.id)).all()
    set_committed_value(statement, "visits", visits)
    lines = [line for visit in visits for line in visit.lines]
    payments = db.session.scalars(select(Payment).where(Payment.statement_id == statement.id,
                                                        Payment.status.in_(SETTLED_STATUSES))
                                  .order_by(Payment.created_at)).all()
    adjustments = db.session.scalars(select(BalanceAdjustment).where(BalanceAdjustment.statement_id == statement.id)
                                     .order_by(BalanceAdjustment.created_at, BalanceAdjustment.id)).all()
    credits: dict[int, int] = {}
    for adjustment in adjustments:
        if adjustment.line_item_id is not None:
            credits[adjustment.line_item_id] = credits.get(adjustment.line_item_id, 0) + adjustment.amount
    credited = Money(sum(adjustment.amount for adjustment in adjustments), currency)
    assistance = Money(sum(a.amount for a in adjustments if a.reason == "financial_assistance"), currency)
    summary = StatementSummary(statement, Money(sum(line.patient_owes_minor for line in lines), currency),
                               Money(sum(p.amount - p.amount_refunded for p in payments), currency),
                               organisation_today(statement.account.organisation, now), credited)
    disputes = disputes_on(statement.id)
    # Once the statement is paid in full, each line says what the patient paid rather than owes.
    settled = summary.paid.is_positive and not summary.amount_due.is_positive
    visit_totals = [(visit, breakdown(visit.lines, currency, credits)) for visit in visits]
    why_lines = {line.id: explain_line(line, currency, settled=settled) for line in lines}
    for line in lines:
        # (A corrected line the billing system has since moved to another statement is not among these: its
        # correction stays where it was posted and exported, in this statement's totals.)
        if line.id in credits:
            amount = credits[line.id]
            why_lines[line.id].append(explain_credit(amount, line.patient_owes_minor - amount, currency))
    totals = replace(breakdown(lines, currency, credits), credited=credited.minor)
    threshold = current_app.config["GOOD_FAITH_DISPUTE_THRESHOLD_MINOR"]
    compared = {visit.id: estimates.compare(visit, totals["patient_owes"], threshold) for visit, totals in visit_totals}
    return StatementPage(
        summary=summary,
        visits=visit_totals,
        totals=totals,
        payments=list(payments),
        names=service_names(lines, locale),
        why_lines=why_lines,
        why_statement=explain_statement(
            lines, currency, paid=summary.paid, amount_due=summary.amount_due, credited=credited - assistance,
            assistance=assistance),
        settled=settled,
        estimates={visit_id: comparison for visit_id, comparison in compared.items() if comparison},
        credits=credits,
        disputes=disputes,
        dispute_sentences={line_id: status_sentence(view.dispute, view.staff_name)
                           for line_id, view in disputes.items()},
    )


def normalise_statement_number(text: str) -> str:
    """Drop the spaces and dashes people type when copying a number from paper."""
    return "".join(text.split()).replace("-", "")


def visible_statement(number: str, *, account_ids: Collection[int], all_statements: bool,
                      guest_statement_ids: Collection[int]) -> Statement | None:
    """Find statement ``number`` if the viewer may see it, else None (shown as 404, never 403).

    ``all_statements`` is for billing staff; ``account_ids`` are a patient login's accounts;
    ``guest_statement_ids`` are statements opened through quick pay in this browser session.
    """
    number = normalise_statement_number(number)
    if not (number.isascii() and number.isdigit()):
        return None
    # With its account and organisation: every page that shows a statement names them.
    statement = db.session.scalar(select(Statement).where(Statement.number == number).options(
        joinedload(Statement.account, innerjoin=True).joinedload(Account.organisation, innerjoin=True)))
    if statement is None:
        return None
    if all_statements or statement.account_id in account_ids or statement.id in guest_statement_ids:
        return statement
    return None


def search_statements(query: str, limit: int = 25, *, within: Collection[int] | None = None) -> list[StatementSummary]:
    """Staff search by statement number, account number, a patient's or guarantor's name, or the payment
    reference on a receipt (what a patient reads out on the phone); ``within`` limits it to those statements."""
    text = query.strip()
    if not text:
        return []
    number = normalise_statement_number(text)
    pattern = f"%{text.casefold()}%"
    patient_match = (select(Visit.statement_id).join(Patient, Visit.patient_id == Patient.id)
                     .where(func.lower(Patient.family_name + " " + Patient.given_name).like(pattern)
                            | func.lower(Patient.given_name + " " + Patient.family_name).like(pattern)))
    receipt_match = select(Payment.statement_id).where(Payment.public_id == text)
    sql = (balances_query().join(Account, Statement.account_id == Account.id)
           .where((Statement.number == number) | (Account.number == number)
                  | func.lower(Account.guarantor_name).like(pattern) | Statement.id.in_(patient_match)
                  | Statement.id.in_(receipt_match))
           .order_by(Statement.statement_date.desc(), Statement.id.desc()).limit(limit))
    if within is not None:
        sql = sql.where(Statement.id.in_(list(within)))
    return _summaries(sql, None)
