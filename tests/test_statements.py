"""The statement list and one statement: every visit, line and amount, and totals that agree."""
from datetime import date, datetime, timedelta, timezone

from portal.audit.models import AuditEvent
from portal.extensions import db

from .pages import amounts, soup


def test_list_shows_dates_amounts_status_and_names_newest_first(client, make, login_as):
    account = make.account("Jordan Family")
    make.patient(account, "Jordan", "Family")
    old = make.statement(account, lines=1, statement_date=date.today() - timedelta(days=90))  # overdue
    new = make.statement(account, lines=2, statement_date=date.today() - timedelta(days=3))
    paid = make.statement(account, lines=1, statement_date=date.today() - timedelta(days=40))
    make.payment(paid, 3000)
    login_as(make.user(accounts=[account]))
    page = soup(client.get("/statements"))
    cards = page.select(".statement-card")
    assert [c.h2.get_text(strip=True) for c in cards] == [
        f"Statement {new.number}", f"Statement {paid.number}", f"Statement {old.number}"]
    assert [c.select_one(".status").get_text(strip=True) for c in cards] == ["Due", "Paid", "Overdue"]
    first = cards[0].get_text(" ", strip=True)
    assert "$60.00" in first and "Jordan Family" in first and "Jordan Family" in first
    assert new.due_date.strftime("%B") in first


def test_statement_page_summary_visits_and_lines(client, make, login_as):
    statement = make.statement(lines=4, visits=2)
    login_as(make.user(accounts=[statement.account]))
    response = client.get(f"/statements/{statement.number}")
    assert response.status_code == 200
    page = soup(response)
    headline = page.select_one(".headline").get_text(" ", strip=True)
    assert headline.startswith("You owe $120.00 by ")
    visits = page.select("article.visit")
    assert len(visits) == 2
    facts = visits[0].select_one(".facts").get_text(" ", strip=True)
    for text in ("Alex Guarantor", "Test General Hospital", "Emergency", "Dr. Test", "Test Insurance PPO"):
        assert text in facts
    lines = page.select("li.line")
    assert len(lines) == 4
    # Visits read oldest first; the factory's second visit is the older one.
    assert [v.select_one(".line-title").get_text(strip=True) for v in visits] == ["TEST SERVICE 2", "TEST SERVICE 1"]
    line = next(li for li in lines if li.select_one(".line-title").get_text(strip=True) == "TEST SERVICE 1")
    meta = line.select_one(".line-meta").get_text(" ", strip=True)
    assert "Quantity 1" in meta
    # With no dictionary entry, the chargemaster's words are the name; the code is one tap away.
    code = line.select_one("details.disclosure")
    assert code.summary.get_text(" ", strip=True) == "Code and hospital description – TEST SERVICE 1"
    assert "CPT code 99200: TEST SERVICE 1" in code.get_text(" ", strip=True)
    assert amounts(line.select_one(".amounts")) == {
        "Charge": 10000, "Allowed amount": 6000, "Insurance paid": 4000, "Adjustment": 3000,
        "Deductible": 1000, "Copay": 500, "Coinsurance": 500, "Not covered": 1000, "You owe": 3000}


def test_lines_show_only_the_parts_of_the_patients_share_that_apply(client, make, login_as):
    statement = make.statement(lines=1)
    line = statement.visits[0].lines[0]
    # allowed 60.00 = insurance 55.00 + coinsurance 5.00; charge 100.00 = 60.00 allowed + 40.00 adjustment
    line.deductible, line.copay, line.not_covered, line.insurance_paid, line.adjustment = 0, 0, 0, 5500, 4000
    db.session.commit()
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    assert amounts(page.select_one("li.line .amounts")) == {
        "Charge": 10000, "Allowed amount": 6000, "Insurance paid": 5500, "Adjustment": 4000,
        "Coinsurance": 500, "You owe": 500}
    totals = amounts(page.select_one("#totals-heading").find_next("dl"))
    assert totals["Deductible"] == 0 and totals["Not covered"] == 0  # the totals keep every column


def test_self_pay_lines_show_no_insurance_columns(client, make, login_as):
    statement = make.statement(lines=2, insured=False)
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    line = amounts(page.select_one("li.line .amounts"))
    assert line == {"Charge": 10000, "Self-pay discount": 2000, "You owe": 8000}
    assert "Insurance paid" not in page.get_text()
    assert "None: self-pay" in page.get_text()


def test_totals_reconcile_with_payments(client, make, login_as):
    statement = make.statement(lines=5)
    make.payment(statement, 4000, method="external")
    make.payment(statement, 2000, status="partially_refunded", refunded=500)
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    totals = amounts(page.select_one("#totals-heading").find_next("dl"))
    assert totals["Charges"] == 50000
    assert totals["You owe for these services"] == 15000
    assert totals["Payments received"] == 5500
    assert totals["Amount due"] == 9500
    assert "$95.00" in page.select_one(".headline").get_text()
    payments = page.select(".payments li")
    assert len(payments) == 2 and "paid to the billing office" in payments[0].get_text()
    assert "$5.00 refunded" in payments[1].get_text()


def test_payment_dates_are_the_hospitals_calendar_day(client, make, login_as):
    statement = make.statement(lines=1)
    # 03:00 UTC on 2 March is still 1 March in Chicago, where the hospital is.
    make.payment(statement, 1000, succeeded_at=datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc))
    login_as(make.user(accounts=[statement.account]))
    payment = soup(client.get(f"/statements/{statement.number}")).select_one(".payments li").get_text(" ", strip=True)
    assert payment.startswith("$10.00 on March 1, 2026")


def test_overdue_and_paid_headlines(client, make, login_as):
    account = make.account()
    overdue = make.statement(account, lines=1, statement_date=date.today() - timedelta(days=60))
    paid = make.statement(account, lines=1)
    make.payment(paid, 3000)
    login_as(make.user(accounts=[account]))
    assert "It was due on" in soup(client.get(f"/statements/{overdue.number}")).select_one(".headline").get_text()
    assert "nothing left to pay" in soup(client.get(f"/statements/{paid.number}")).select_one(".headline").get_text()


def test_viewing_a_statement_is_audited(client, make, login_as):
    statement = make.statement(lines=1)
    user = make.user(accounts=[statement.account])
    login_as(user)
    client.get(f"/statements/{statement.number}")
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "statement.viewed"))
    assert (event.actor_user_id, event.actor_kind, event.subject_id) == (user.id, "patient", statement.id)


def test_supervisors_find_and_open_any_statement(client, make, login_as):
    account = make.account("Quinn Searchable")
    make.patient(account, "Quinn", "Searchable")
    statement = make.statement(account, lines=2)
    login_as(make.user("boss@example.org", role="supervisor"))
    for query in (statement.number, account.number, "searchable", "Quinn Searchable"):
        page = soup(client.get("/staff/statements", query_string={"q": query}))
        assert [a.get_text(strip=True) for a in page.select(".statement-card h3 a")] == [
            f"Statement {statement.number}"], query
    assert client.get(f"/statements/{statement.number}").status_code == 200
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "statement.viewed"))
    assert event.actor_kind == "supervisor"
    assert "0 statements found" in client.get("/staff/statements?q=nobody").get_data(as_text=True)


def test_billing_staff_find_and_open_only_the_statements_of_their_questions(client, make, login_as):
    from portal.questions.models import Question

    clerk = make.user("clerk@example.org", role="staff")
    mine, other = make.statement(make.account("Quinn Searchable"), lines=1), make.statement(
        make.account("Quinn Elsewhere"), lines=1)
    db.session.add(Question(account_id=mine.account_id, statement=mine, topic="charges", language="en",
                            assigned_staff_id=clerk.id, due_at=datetime.now(timezone.utc)))
    db.session.commit()
    login_as(clerk)
    page = soup(client.get("/staff/statements", query_string={"q": "quinn"}))
    assert [a.get_text(strip=True) for a in page.select(".statement-card h3 a")] == [f"Statement {mine.number}"]
    assert client.get(f"/statements/{mine.number}").status_code == 200
    assert client.get(f"/statements/{other.number}").status_code == 404
    assert client.get(f"/statements/{other.number}/pdf").status_code == 404


def test_patients_cannot_use_the_staff_search(client, make, login_as):
    login_as(make.user())
    assert client.get("/staff/statements?q=1").status_code == 404
