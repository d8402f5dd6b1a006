"""Good faith estimates: `flask import estimates` (every file all or nothing), and a self-pay visit's bill shown
beside its estimate on the statement page and the printed statement, with the federal dispute process offered
when the bill is 400.00 or more above it."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.billing.models import Account, GoodFaithEstimate, Statement
from portal.extensions import db
from portal.imports.models import ImportedClaim

from .pages import soup
from .test_statement_pdf import full_text

DATA = Path(__file__).parent / "data" / "import"
HEADER = "account_number,visit_id,claim,estimate,estimate_date,currency"


def run(runner, *args):  # noqa: ANN001, ANN202
    return runner.invoke(args=["import", *args], catch_exceptions=False)


def estimates() -> list[tuple[int, str, date]]:
    db.session.expire_all()
    return [(e.amount, e.currency, e.given_on) for e in GoodFaithEstimate.query.order_by(GoodFaithEstimate.id)]


@pytest.fixture
def imported(runner, make, glossary):
    """The sample CSV's bills imported: Lucía Herrera's self-pay clinic visit V-9010 owes 144.00."""
    make.organisation()
    assert run(runner, "csv", str(DATA / "sample.csv")).exit_code == 0
    return db.session.scalar(select(Account).where(Account.number == "A-7002"))


def write(tmp_path, *rows: str) -> str:
    path = tmp_path / "estimates.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_the_sample_estimate_imports_shows_beside_the_bill_and_a_second_run_changes_nothing(
        app, runner, imported, make, login_as, client):
    result = run(runner, "estimates", str(DATA / "estimates.csv"))
    assert result.exit_code == 0, result.output
    assert "estimates.csv: 1 estimates added, 0 updated, 0 unchanged." in result.output
    assert estimates() == [(12000, "USD", date(2026, 10, 20))]
    again = run(runner, "estimates", str(DATA / "estimates.csv"))
    assert "0 estimates added, 0 updated, 1 unchanged." in again.output and len(estimates()) == 1

    (statement,) = imported.statements
    login_as(make.user("lucia@example.org", accounts=[imported]))
    box = soup(client.get(f"/statements/{statement.number}")).find(class_="estimate")
    labels = [dt.get_text(" ", strip=True) for dt in box.find_all("dt")]
    # The term is marked with the glossary's explanation, as on the rest of the page.
    assert labels[0].startswith("Good faith estimate Good faith estimate A written estimate of what your care")
    assert labels[1:] == ["Billed to you for this visit", "Above the estimate by"]
    assert [dd.get_text(" ", strip=True) for dd in box.find_all("dd")] == [
        "$120.00 (given on October 20, 2026)", "$144.00", "$24.00"]
    # 24.00 above: not enough for the federal dispute process.
    assert "notice" not in box["class"] and "dispute resolution" not in box.get_text()


def test_a_new_amount_replaces_the_estimate_and_a_dry_run_writes_nothing(runner, imported, tmp_path):
    run(runner, "estimates", str(DATA / "estimates.csv"))
    path = write(tmp_path, "A-7002,V-9010,,99.50,2026-10-21,")
    dry = run(runner, "estimates", "--dry-run", path)
    assert "0 estimates would be added, 1 would be updated, 0 unchanged (dry run: nothing was written)." in dry.output
    assert estimates() == [(12000, "USD", date(2026, 10, 20))]
    result = run(runner, "estimates", path)
    assert "0 estimates added, 1 updated, 0 unchanged." in result.output
    assert estimates() == [(9950, "USD", date(2026, 10, 21))]


@pytest.mark.parametrize("rows, reason", [
    (["A-7002,V-9010,,-5.00,2026-10-20,"], "row 2, estimate: -5.00 is negative"),
    (["A-7002,V-9010,,12.345,2026-10-20,"], "has more decimals than USD has"),
    (["A-7002,V-9010,,one hundred,2026-10-20,"], "is not an amount"),
    (["A-7002,V-9010,,120.00,20/10/2026,"], "is not a date (YYYY-MM-DD)"),
    (["A-7002,V-9010,,,2026-10-20,"], "estimate is empty"),
    (["A-7002,,,120.00,2026-10-20,"], "names no visit"),
    (["A-7002,V-9010,,120.00,2026-10-20,", "A-7002,V-9010,,130.00,2026-10-20,"], "is the same visit as row 2"),
    (["A-7002,V-9010,,120.00,2026-10-20,EUR"], "the estimate is in EUR but the visit's statement is in USD"),
    (["A-7002,V-9010,,120.00,2026-10-20,", "A-7002,V-0000,,120.00,2026-10-20,"],
     "no imported visit for row 3 (A-7002/V-0000): import its bill first"),
    (["A-7002,V-9010,,120.00,2026-10-20,,extra"], "it has more fields than the header"),
])
def test_a_bad_row_is_named_and_nothing_of_the_file_is_written(runner, imported, tmp_path, rows, reason):
    result = run(runner, "estimates", write(tmp_path, *rows))
    assert result.exit_code == 1
    assert "FAILED: estimates.csv:" in result.output and reason in result.output, result.output
    assert "nothing of it was written" in result.output
    assert estimates() == []


def test_a_header_it_cannot_use_and_a_file_that_is_not_text_are_refused(runner, imported, tmp_path):
    for header, reason in (("visit,estimate,estimate_date", "unknown column(s) visit"),
                           ("account_number,estimate,estimate_date", "the header needs estimate, estimate_date and "
                                                                     "either claim or account_number and visit_id")):
        path = tmp_path / "estimates.csv"
        path.write_text(header + "\n", encoding="utf-8")
        result = run(runner, "estimates", str(path))
        assert result.exit_code == 1 and reason in result.output, result.output
    path = tmp_path / "estimates.csv"
    path.write_bytes(HEADER.encode() + b"\nA-7002,V-9010,,\xff\xfe,2026-10-20,\n")
    assert "is not UTF-8 text" in run(runner, "estimates", str(path)).output
    assert estimates() == []


def self_pay(make, lines: int = 6) -> Statement:
    """A self-pay statement of ``lines`` lines of 100.00 less a 20.00 discount: 80.00 billed a line."""
    account = make.account()
    statement = make.statement(account, lines=lines, insured=False)
    make.user(accounts=[account])
    return statement


def add_estimate(statement: Statement, amount: int) -> None:
    db.session.add(GoodFaithEstimate(visit_id=statement.visits[0].id, amount=amount, currency="USD",
                                     given_on=statement.visits[0].visit_date))
    db.session.commit()


def test_a_fhir_visit_is_named_by_its_claim(runner, make, tmp_path):
    statement = self_pay(make)
    db.session.add(ImportedClaim(organisation_id=statement.account.organisation_id, source_key="fhir:Claim/c-42",
                                 digest="0" * 64, visit_id=statement.visits[0].id, source_file="bundle.json"))
    db.session.commit()
    result = run(runner, "estimates", write(tmp_path, ",,Claim/c-42,80.00,2026-10-01,"))
    assert result.exit_code == 0 and "1 estimates added" in result.output, result.output
    assert db.session.scalar(select(func.count()).select_from(GoodFaithEstimate)) == 1


def test_a_bill_400_or_more_above_its_estimate_offers_the_federal_dispute_process(client, make, login_as):
    statement = self_pay(make)  # 480.00 billed
    add_estimate(statement, 8000)  # 400.00 above: the threshold itself
    login_as(_login_of(statement))
    box = soup(client.get(f"/statements/{statement.number}")).find(class_="estimate")
    text = " ".join(box.get_text(" ").split())
    assert "notice" in box["class"]
    assert "Above the estimate by $400.00" in text
    assert ("This bill is $400.00 or more above your good faith estimate, so you may be able to have it decided by "
            "the federal patient-provider dispute resolution process. You must start it within 120 days of the date "
            "of your first bill for this visit.") in text
    link = box.find("a", href="https://www.cms.gov/nosurprises")
    assert link is not None and link.get_text() == "www.cms.gov/nosurprises"
    assert "call 1-800-985-3059" in text
    # A cent less above the estimate: shown, not offered.
    statement.visits[0].estimate.amount = 8001
    db.session.commit()
    box = soup(client.get(f"/statements/{statement.number}")).find(class_="estimate")
    assert "notice" not in box["class"] and "Above the estimate by $399.99" in " ".join(box.get_text(" ").split())
    assert "dispute resolution" not in box.get_text()


def _login_of(statement: Statement):  # noqa: ANN202
    from portal.auth.models import User, UserAccount

    return db.session.scalar(select(User).join(UserAccount, UserAccount.user_id == User.id)
                             .where(UserAccount.account_id == statement.account_id))


def test_an_insured_visit_shows_no_estimate_and_a_bill_below_it_nothing_above(client, make, login_as):
    account = make.account()
    insured = make.statement(account, lines=6)
    add_estimate(insured, 0)
    below = make.statement(account, lines=1, insured=False)
    add_estimate(below, 50000)
    login_as(make.user("household@example.org", accounts=[account]))
    assert soup(client.get(f"/statements/{insured.number}")).find(class_="estimate") is None
    box = soup(client.get(f"/statements/{below.number}")).find(class_="estimate")
    assert box is not None and "Above the estimate" not in box.get_text() and "notice" not in box["class"]


def test_the_printed_statement_shows_the_estimate_and_a_new_estimate_is_a_new_version(client, make, login_as):
    statement = self_pay(make)
    login_as(_login_of(statement))
    before = client.get(f"/statements/{statement.number}/pdf")
    assert "Good faith estimate" not in full_text(before.get_data())
    add_estimate(statement, 8000)
    after = client.get(f"/statements/{statement.number}/pdf")
    assert after.headers["ETag"] != before.headers["ETag"]
    text = full_text(after.get_data())
    for expected in ("Good faith estimate: $80.00", "Billed to you for this visit: $480.00",
                     "federal patient-provider dispute resolution process", "www.cms.gov/nosurprises",
                     "1-800-985-3059"):
        assert expected in text, expected
