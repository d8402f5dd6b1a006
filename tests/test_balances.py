"""Amount due = what the patient owes on the lines − payments received + refunds, in one query."""
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import event

from portal.billing import services
from portal.extensions import db
from portal.money import Money


def _summary(statement, now=None):
    return services.summary_for(statement, now)


def test_amount_due_counts_settled_payments_and_refunds(make):
    statement = make.statement(lines=3)  # the patient owes 3 × 30.00
    assert _summary(statement).amount_due == Money(9000, "USD")
    make.payment(statement, 2500)
    make.payment(statement, 1000, status="pending")
    make.payment(statement, 4000, status="failed")
    make.payment(statement, 3000, status="partially_refunded", refunded=1000)
    make.payment(statement, 700, status="refunded", refunded=700)
    summary = _summary(statement)
    assert summary.paid == Money(2500 + 2000, "USD")
    assert summary.amount_due == Money(4500, "USD")
    assert summary.status == services.STATUS_DUE


def test_self_pay_balance_is_charge_less_discount(make):
    statement = make.statement(lines=4, insured=False)
    assert _summary(statement).amount_due == Money(4 * 8000, "USD")


def test_status_is_paid_overdue_or_due(make):
    statement = make.statement(lines=1, statement_date=date(2026, 3, 1), due_in_days=30)
    due_day = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # Chicago, still the due date
    assert _summary(statement, due_day).status == services.STATUS_DUE
    next_day = datetime(2026, 4, 1, 6, 0, tzinfo=timezone.utc)  # 1 April in Chicago
    assert _summary(statement, next_day).status == services.STATUS_OVERDUE
    make.payment(statement, 3000)
    assert _summary(statement, next_day).status == services.STATUS_PAID


def test_overpayment_is_paid_with_a_credit(make):
    statement = make.statement(lines=1)
    make.payment(statement, 3500)
    summary = _summary(statement)
    assert summary.status == services.STATUS_PAID
    assert summary.amount_due == Money(-500, "USD")


def test_statement_without_lines_owes_nothing(make):
    statement = make.statement(lines=0)
    assert _summary(statement).amount_due == Money(0, "USD")


def test_all_balances_of_a_login_in_one_query(make, app):
    account = make.account()
    for days in (40, 10, 70):
        make.statement(account, lines=5, statement_date=date.today() - timedelta(days=days))
    queries = []
    listener = lambda *args: queries.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        db.session.expire_all()
        summaries = services.summaries_for_accounts([account.id])
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    balance_queries = [q for q in queries if "sum" in q.lower()]
    assert len(balance_queries) == 1
    assert [s.statement.statement_date for s in summaries] == sorted(
        (s.statement.statement_date for s in summaries), reverse=True)
    assert all(s.amount_due == Money(15000, "USD") for s in summaries)


def test_breakdown_adds_up_every_column(make):
    statement = make.statement(lines=3)
    lines = statement.visits[0].lines
    totals = services.breakdown(lines, "USD")
    assert totals["charge"] == Money(30000, "USD")
    assert totals["allowed"] == Money(18000, "USD")
    parts = ("insurance_paid", "adjustment", "deductible", "copay", "coinsurance", "not_covered")
    assert Money.total((totals[p] for p in parts), "USD") == totals["charge"]
    owed = ("deductible", "copay", "coinsurance", "not_covered")
    assert Money.total((totals[p] for p in owed), "USD") == totals["patient_owes"] == Money(9000, "USD")


def test_the_statement_page_adds_up_the_same_balance_as_the_balance_query(app, make):
    """The statement page adds its balance up from the rows it shows; lists use SQL. Both must agree to the cent,
    whatever state the payments are in."""
    from portal.billing.services import statement_page, summary_for

    insured = make.statement(lines=7, visits=3)
    for amount, status, refunded in ((2500, "succeeded", 0), (1000, "partially_refunded", 400),
                                     (700, "refunded", 700), (3000, "pending", 0), (900, "failed", 0)):
        make.payment(insured, amount, status=status, refunded=refunded)
    unpaid = make.statement(lines=1)
    overpaid = make.statement(lines=2)
    make.payment(overpaid, summary_for(overpaid).patient_owes.minor + 100)
    for statement in (insured, unpaid, overpaid):
        db.session.expire_all()
        with app.test_request_context():  # the page also names and explains its lines, in the request's language
            page = statement_page(statement, "en").summary
        query = summary_for(statement)
        assert (page.patient_owes, page.paid, page.amount_due, page.status) == \
               (query.patient_owes, query.paid, query.amount_due, query.status)
    assert page.paid.minor == query.patient_owes.minor + 100 and page.status == "paid"
