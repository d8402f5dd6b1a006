"""Pages ask the database a fixed number of questions, however long the bill (no query per line, visit,
statement or payment). Each test opens the same page over a small and a large account and compares the SQL
statements sent: the counts must be equal, and under a bound."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from portal.disputes import services as disputes
from portal.extensions import db
from portal.questions.models import StaffProfile
from portal.questions.services import NewQuestion

from .conftest import csrf_token

# A statement page reads the login, the statement with its visits and lines, balances, payments, questions, the
# glossary and the service dictionary: a fixed set of reads. Far above what it needs today, far below one per line.
BOUND = 30


def sql_sent(client, url: str) -> list[str]:  # noqa: ANN001 (a test client)
    """The SQL statements the app sends while answering one GET of ``url`` (which must answer 200)."""
    sent: list[str] = []

    def record(conn, cursor, statement, *rest) -> None:  # noqa: ANN001 (SQLAlchemy's event arguments)
        sent.append(statement)

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, (url, response.status_code)
    return sent


def distinct_codes(count: int) -> list[tuple[str, str]]:
    # Every line a different service, so that a lookup per code would show.
    return [("cpt", f"{99000 + i}") for i in range(count)]


@pytest.fixture
def small_and_large(make, glossary):
    """One login with two accounts: a statement of 5 lines on one visit, and one of 200 lines over 20 visits,
    with 4 payments and 7 disputed lines (one of them on the small one; 3 corrected); returns the login and both statement numbers."""
    small_account, large_account = make.account(), make.account()
    small = make.statement(small_account, lines=5, codes=distinct_codes(5))
    large = make.statement(large_account, lines=200, visits=20, codes=distinct_codes(200))
    for amount in (1000, 2500, 500, 1200):
        make.payment(large, amount)
    make.payment(small, 1000)
    resolver = make.user("resolver@example.org", role="staff")
    db.session.add(StaffProfile(user=resolver, display_name="Res Olver", job_title="Billing specialist",
                                languages=["en"], topics=["dispute"]))
    # The small one's only line disputed too: a bill with a named contact prints that person, either way.
    disputed = [(large, line) for visit in large.visits for line in visit.lines][::33] + [(small, small.visits[0].lines[0])]
    for index, (statement, line) in enumerate(disputed):
        opened = disputes.open_dispute(statement, line, "charged_twice", NewQuestion(
            "dispute", "Twice", "en", "email", "pat@example.org"), user=None)
        if index % 2:
            disputes.resolve(opened, outcome="corrected", note="Fixed", amount=100 + index, by=resolver)
    db.session.commit()
    user = make.user(accounts=[small_account, large_account])
    return user, small.number, large.number


@pytest.mark.parametrize("page", ["/statements/{}", "/statements/{}/pay", "/statements/{}/ask"])
def test_a_statement_page_sends_as_many_queries_for_200_lines_as_for_5(client, login_as, small_and_large, page):
    user, small, large = small_and_large
    login_as(user)
    client.get(page.format(small))  # the first request of a login warms what every request shares
    for_small = sql_sent(client, page.format(small))
    for_large = sql_sent(client, page.format(large))
    print(f"{page}: {len(for_small)} queries for 5 lines, {len(for_large)} for 200 lines over 20 visits")
    assert len(for_large) == len(for_small), "\n".join(for_large)
    assert len(for_large) <= BOUND, "\n".join(for_large)


def test_the_statement_pdf_sends_as_many_queries_for_200_lines_as_for_5(client, login_as, small_and_large):
    user, small, large = small_and_large
    login_as(user)
    client.get(f"/statements/{small}")  # the first request of a login warms what every request shares
    for_small = sql_sent(client, f"/statements/{small}/pdf")
    for_large = sql_sent(client, f"/statements/{large}/pdf")
    print(f"PDF: {len(for_small)} queries for 5 lines, {len(for_large)} for 200 lines over 20 visits")
    assert len(for_large) == len(for_small) <= BOUND, "\n".join(for_large)


def test_the_list_of_bills_sends_as_many_queries_for_30_statements_as_for_2(app, make, glossary):
    few, many = make.account(), make.account()
    for days in (5, 40):
        make.statement(few, lines=3, statement_date=date.today() - timedelta(days=days))
    for days in range(30):
        statement = make.statement(many, lines=3, statement_date=date.today() - timedelta(days=5 + 31 * days))
        make.payment(statement, 500)
    counts = {}
    for name, account in (("few", few), ("many", many)):
        user = make.user(f"{name}@example.org", accounts=[account])
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": "correct horse battery",
                                               "csrf_token": csrf_token(client, "/login")})
        assert response.status_code == 302
        client.get("/statements")
        counts[name] = len(sql_sent(client, "/statements"))
    print(f"/statements: {counts['few']} queries for 2 statements, {counts['many']} for 30")
    assert counts["many"] == counts["few"] <= BOUND
