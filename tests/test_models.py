"""The database itself refuses money that does not add up and duplicates that would confuse patients."""
from datetime import date

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.billing.models import LineItem, Statement
from portal.extensions import db
from portal.payments.models import Payment


def _line(make, **amounts) -> LineItem:
    statement = make.statement(lines=1)
    line = statement.visits[0].lines[0]
    for field, value in amounts.items():
        setattr(line, field, value)
    return line


def _refused():
    """Committing what the test changed must fail on a database constraint."""
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("amounts", [
    {"charge": -100},
    {"quantity": 0},
    {"insurance_paid": 4100},  # parts add up to more than the charge
    {"copay": 0},  # parts add up to less than the charge
    {"deductible": -1000, "insurance_paid": 6000},  # adds up, but negative
])
def test_insured_line_must_reconcile(make, amounts):
    _line(make, **amounts)
    _refused()


@pytest.mark.parametrize("amounts", [
    {"allowed": None},  # a self-pay line cannot carry insurance amounts
    {"allowed": None, "insurance_paid": 0, "deductible": 0, "copay": 0, "coinsurance": 0, "not_covered": 0,
     "adjustment": 10001},  # a discount larger than the charge
])
def test_self_pay_line_has_no_insurance_amounts(make, amounts):
    _line(make, **amounts)
    _refused()


def test_a_valid_self_pay_line_is_accepted(make):
    statement = make.statement(lines=2, insured=False)
    assert [line.patient_owes_minor for line in statement.visits[0].lines] == [8000, 8000]


def test_statement_numbers_are_unique(make):
    first = make.statement(lines=1)
    db.session.add(Statement(account=first.account, number=first.number, statement_date=date(2026, 1, 1),
                             due_date=date(2026, 2, 1), currency="USD"))
    _refused()


def test_due_date_cannot_precede_statement_date(make):
    statement = make.statement(lines=1)
    statement.due_date = date(2000, 1, 1)
    _refused()


@pytest.mark.parametrize("fields", [
    {"amount": 0},
    {"amount": -500},
    {"amount": 500, "amount_refunded": 501},
    {"amount": 500, "status": "lost"},
])
def test_payment_constraints(make, fields):
    statement = make.statement(lines=1)
    values = {"amount": 500, "currency": "USD", "status": "succeeded"} | fields
    db.session.add(Payment(statement=statement, **values))
    _refused()


def test_payment_intent_ids_are_unique(make):
    statement = make.statement(lines=1)
    make.payment(statement, 100, stripe_payment_intent_id="pi_123")
    db.session.add(Payment(statement=statement, amount=100, currency="USD", stripe_payment_intent_id="pi_123"))
    _refused()


def test_audit_events_are_append_only(app):
    event = record("statement.viewed", actor_kind="anonymous", subject_type="statement", subject_id=1)
    db.session.commit()
    event.action = "something else"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "statement.viewed"


def test_bulk_updates_respect_the_reconciliation_check(make):
    statement = make.statement(lines=3)
    with pytest.raises(IntegrityError):
        db.session.execute(update(LineItem).where(LineItem.visit_id == statement.visits[0].id)
                           .values(insurance_paid=LineItem.insurance_paid + 1))
        db.session.commit()
    db.session.rollback()
