"""The demo hospital loads idempotently, has what the README promises, and every statement reconciles."""
from collections import Counter

import pytest
from sqlalchemy import func, select

from portal.auth.models import User
from portal.billing.models import Account, LineItem, Patient, Statement, Visit
from portal.billing.services import summaries_for_accounts
from portal.extensions import db
from portal.questions.models import StaffProfile

from .pages import amounts, cents, soup


def _snapshot() -> dict:
    tables = [t for t in db.metadata.sorted_tables if t.name != "audit_events"]
    return {t.name: sorted(tuple(str(v) for v in row) for row in db.session.execute(select(t)).all())
            for t in tables}


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0 and "Demo data loaded" in result.output
    return app


def test_loading_twice_changes_nothing(demo, runner):
    before = _snapshot()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0 and "already loaded" in result.output
    db.session.expire_all()
    assert _snapshot() == before


def test_demo_covers_the_promised_cases(demo):
    accounts = db.session.scalars(select(Account)).all()
    assert len(accounts) >= 5
    summaries = summaries_for_accounts([a.id for a in accounts])
    statuses = Counter(s.status for s in summaries)
    assert statuses["paid"] >= 1 and statuses["overdue"] >= 1 and statuses["due"] >= 1
    line_counts = dict(db.session.execute(
        select(Statement.number, func.count(LineItem.id)).join(Visit, Visit.statement_id == Statement.id)
        .join(LineItem, LineItem.visit_id == Visit.id).group_by(Statement.number)).all())
    assert min(line_counts.values()) >= 3 and max(line_counts.values()) == 40
    assert any(len(a.patients) >= 2 for a in accounts)  # a family
    payers = {v.payer for v in db.session.scalars(select(Visit))}
    assert None in payers and len(payers - {None}) >= 2  # self-pay and insured
    assert db.session.scalar(select(func.count()).where(LineItem.deductible > 0)) > 0
    departments = {v.department for v in db.session.scalars(select(Visit))}
    assert len(departments) >= 5
    assert {"en", "es", "bg", "zh_Hans", "ar"} <= {a.preferred_locale for a in accounts}
    staff = db.session.scalars(select(StaffProfile)).all()
    assert len([s for s in staff if s.user.role == "staff"]) >= 6
    assert len({lang for s in staff for lang in s.languages}) >= 6
    assert len({frozenset(s.topics) for s in staff}) >= 5


@pytest.mark.parametrize("email, password, home", [
    ("patient@example.org", "demo-patient-1", "/statements"),
    ("patient2@example.org", "demo-patient-2", "/statements"),
    ("staff@example.org", "demo-staff-1", "/staff/statements"),
    ("supervisor@example.org", "demo-supervisor-1", "/staff/statements"),
])
def test_demo_logins_work(demo, client, submit, email, password, home):
    response = submit("/login", {"email": email, "password": password})
    assert response.status_code == 302 and response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_households_see_only_their_own_statements(demo, client, submit):
    submit("/login", {"email": "patient@example.org", "password": "demo-patient-1"})
    page = soup(client.get("/statements"))
    assert {c.h2.get_text(strip=True) for c in page.select(".statement-card")} == {
        "Statement 400100017", "Statement 400090011"}
    assert "Sam Rivera" in page.get_text() and "Jordan Rivera" in page.get_text()
    assert client.get("/statements/400100025").status_code == 404  # patient2's


def test_quick_pay_example_from_the_readme(demo, client, submit):
    response = submit("/quick-pay", {"statement_number": "400100041", "date_of_birth": "06/30/1958"})
    assert response.headers["Location"] == "/statements/400100041"
    assert len(soup(client.get("/statements/400100041")).select("li.line")) == 40


def test_every_demo_statement_reconciles_to_the_cent(demo, client, submit):
    """Read each statement as the patient sees it and add it up again."""
    submit("/login", {"email": "supervisor@example.org", "password": "demo-supervisor-1"})
    numbers = db.session.scalars(select(Statement.number)).all()
    summaries = {s.statement.number: s for s in summaries_for_accounts(db.session.scalars(select(Account.id)).all())}
    for number in numbers:
        page = soup(client.get(f"/statements/{number}"))
        line_amounts = [amounts(li.select_one(".amounts")) for li in page.select("li.line")]
        credited = 0
        for line in line_amounts:
            if "Taken off by the billing office" in line:  # a disputed charge the billing office corrected
                assert line["You owe now"] == line["You owe"] - line["Taken off by the billing office"], number
                credited += line["Taken off by the billing office"]
            if "Insurance paid" in line:
                parts = ("Insurance paid", "Adjustment", "Deductible", "Copay", "Coinsurance", "Not covered")
                # Parts of the patient's share that are zero are not shown on a line.
                assert sum(line.get(p, 0) for p in parts) == line["Charge"], number
                owed = ("Deductible", "Copay", "Coinsurance", "Not covered")
                assert line["You owe"] == sum(line.get(p, 0) for p in owed)
            else:
                assert line["You owe"] == line["Charge"] - line.get("Self-pay discount", 0)
        visit_owes = 0
        for visit in page.select("article.visit"):
            visit_total = amounts(visit.select("dl.amounts")[-1])
            owes = sum(amounts(li.select_one(".amounts"))["You owe"] for li in visit.select("li.line"))
            assert visit_total["You owe for these services"] == owes, number
            visit_owes += owes
        totals = amounts(page.select_one("#totals-heading").find_next("dl"))
        assert totals["Charges"] == sum(line["Charge"] for line in line_amounts)
        assert totals["You owe for these services"] == visit_owes == sum(l["You owe"] for l in line_amounts)
        assert totals.get("Taken off by the billing office", 0) == credited, number
        assert totals["Amount due"] == (totals["You owe for these services"] - credited
                                        - totals["Payments received"]), number
        assert totals["Amount due"] == summaries[number].amount_due.minor, number
        headline = page.select_one(".headline").get_text(" ", strip=True)
        if totals["Amount due"] > 0:
            assert cents(headline.split("You owe ")[1].split()[0]) == totals["Amount due"]


def test_demo_patient_names_and_birth_dates_are_set(demo):
    assert db.session.scalar(select(func.count()).select_from(Patient)) >= 7
    assert db.session.scalar(select(User).where(User.email == "patient@example.org")).locale == "en"
