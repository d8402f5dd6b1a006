"""`flask import csv`: the documented layout, the same rules as FHIR, and every file all or nothing."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.billing.models import Account, LineItem, Patient, Statement, Visit
from portal.billing.services import summary_for
from portal.extensions import db

SAMPLE = Path(__file__).parent / "data" / "import" / "sample.csv"


@pytest.fixture
def hospital(make):
    return make.organisation()


def run(runner, *args):  # noqa: ANN001, ANN202
    return runner.invoke(args=["import", "csv", *args], catch_exceptions=False)


def counts() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Account, Patient, Statement, Visit, LineItem))


def test_the_sample_file_imports_and_a_second_run_changes_nothing(runner, hospital, glossary):
    result = run(runner, str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert "Imported 1 of 1 files." in result.output
    assert "accounts:   2 created" in result.output and "patients:   3 created" in result.output
    assert "no plain-language name" not in result.output
    dana = db.session.scalar(select(Account).where(Account.number == "A-7001"))
    # Both of Dana's October visits (hers and her son's) are on one statement for the month.
    (october,) = dana.statements
    assert october.statement_date == date(2026, 10, 31) and len(october.visits) == 2
    assert summary_for(october).amount_due.minor == 10000 + 15000 + 600 + 4200
    lucia = db.session.scalar(select(Account).where(Account.number == "A-7002"))
    assert lucia.preferred_locale == "es" and lucia.mailing_address.startswith("40 Oak Avenue")
    (own,) = lucia.statements
    # The billing system's own statement number is kept; self-pay with a discount.
    assert own.number == "8800123401" and own.period_start is None
    (line,) = own.visits[0].lines
    assert (line.allowed, line.adjustment, line.patient_owes_minor) == (None, 3600, 14400)
    before = counts()
    again = run(runner, str(SAMPLE))
    assert again.exit_code == 0 and "0 new, 0 corrected, 0 cancelled, 3 unchanged" in again.output
    assert counts() == before


HEADER = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
GOOD = ("A1,Pat Doe,1 Road,en,M1,Pat,Doe,1970-01-01,V1,2026-10-01,,Hospital,Clinic,Dr. X,Payer,,2026-10-01,"
        "revenue,0510,CLINIC,1,USD,100.00,80.00,60.00,20.00,10.00,10.00,0.00,0.00")


def _with(**changes: str) -> str:
    names = HEADER.split(",")
    values = GOOD.split(",")
    for name, value in changes.items():
        values[names.index(name)] = value
    return ",".join(values)


@pytest.mark.parametrize("row, reason", [
    (_with(charge="ten"), "row 2, charge: 'ten' is not an amount"),
    (_with(charge="-100.00"), "row 2, charge: -100.00 is negative"),
    (_with(charge="100.001"), "row 2, charge: '100.001' has more decimals than USD has"),
    (_with(currency="EUR"), "row 2: the currency is EUR, but this hospital bills in USD"),
    (_with(insurance_paid="65.00"), "row 2: insurance_paid, adjustment, deductible, copay, coinsurance and "
                                    "not_covered must add up to the charge"),
    (_with(allowed="120.00"), "row 2: allowed is more than the charge"),
    (_with(visit_date="2026-13-01"), "row 2: '2026-13-01' is not a date (YYYY-MM-DD)"),
    (_with(code_system="icd"), "row 2: code_system must be one of"),
    (_with(payer=""), "row 2: a visit with no payer is self-pay"),
    (_with(patient_family_name=""), "row 2: patient_family_name is empty"),
])
def test_a_bad_row_is_named_and_nothing_of_the_file_is_written(runner, hospital, tmp_path, row, reason):
    path = tmp_path / "bad.csv"
    good_row = _with(visit_id="V0", patient_id="M0")
    path.write_text("\n".join([HEADER, row, good_row]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 1
    assert "FAILED: 1 files not imported" in result.output
    assert f"bad.csv: {reason}" in result.output, result.output
    assert counts() == (0, 0, 0, 0, 0)


def test_a_statement_number_used_by_another_account_is_refused(runner, hospital, tmp_path, make):
    other = make.statement(make.account(), number="5550001")
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([HEADER, _with(statement_number="5550001")]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 1
    assert "statement number 5550001 already belongs to another account" in result.output
    in_file = tmp_path / "twice.csv"
    in_file.write_text("\n".join([HEADER, _with(statement_number="777"),
                                  _with(account_number="A2", patient_id="M2", visit_id="V2",
                                        statement_number="777")]) + "\n", encoding="utf-8")
    result = run(runner, str(in_file))
    assert result.exit_code == 1 and "statement number 777 is used for two accounts" in result.output
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 1
    assert other.number == "5550001"


def test_a_corrected_row_updates_and_a_cancelled_visit_is_removed(runner, hospital, tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text("\n".join([HEADER, GOOD]) + "\n", encoding="utf-8")
    assert run(runner, str(path)).exit_code == 0
    path.write_text("\n".join([HEADER, _with(charge="110.00", adjustment="30.00")]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 0 and "1 corrected" in result.output and "1 updated" in result.output
    assert db.session.scalar(select(LineItem.charge)) == 11000
    path.write_text("\n".join([HEADER + ",status", GOOD + ",cancelled"]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 0, result.output
    assert "1 cancelled" in result.output and "1 removed" in result.output
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_header_without_required_columns_is_refused(runner, hospital, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("account_number,charge\nA1,10.00\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 1 and "short.csv: header: the header lacks the column(s) guarantor_name" in result.output


@pytest.mark.parametrize("row, reason", [
    (_with(quantity="²"), "row 2: quantity must be a whole number from 1 to 100000"),
    (_with(charge="1e30"), "row 2, charge: 1e30 is too large"),
    (_with(charge="\"12,5\""), "row 2, charge: '12,5' is not an amount"),
    (_with(statement_number="１２３"), "row 2: statement_number must be digits only"),
    (_with(description="x" * 200_000), "bad.csv: -: is not readable CSV"),
])
def test_odd_values_are_refused_by_name_never_a_crash(runner, hospital, tmp_path, row, reason):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, row]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 1 and reason in result.output, result.output
    assert counts() == (0, 0, 0, 0, 0)


def test_an_account_and_patient_entered_before_are_adopted_not_duplicated(runner, hospital, tmp_path, make):
    account = make.account(number="A1")
    patient = Patient(account=account, mrn="M1", given_name="Pat", family_name="Doe", birth_date=date(1970, 1, 1))
    db.session.add(patient)
    db.session.commit()
    path = tmp_path / "feed.csv"
    path.write_text("\n".join([HEADER, GOOD]) + "\n", encoding="utf-8")
    result = run(runner, str(path))
    assert result.exit_code == 0, result.output
    assert "patients:   0 created" in result.output
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
    assert db.session.get(Patient, patient.id).source_key == "csv:patient/M1"
