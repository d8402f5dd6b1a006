"""Read the portal's CSV layout (one row per line item) into import records. No database here.

For billing systems that cannot speak FHIR. The columns are documented in the README ("Importing bills")
and shown by ``tests/data/import/sample.csv``. A file is one unit: all of it is imported, or none of it.
"""
from __future__ import annotations

import csv
import io
import os
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from ..errors import has_nul
from ..i18n import locale_from_header
from .amounts import to_minor
from .fhir import Hospital
from .records import AMOUNT_COLUMNS, AccountRecord, BadInput, ClaimRecord, LineRecord, PatientRecord, Unit

REQUIRED = ("account_number", "guarantor_name", "patient_id", "patient_family_name", "patient_birth_date",
            "visit_id", "visit_date", "code_system", "code", "description", "charge")
OPTIONAL = ("mailing_address", "language", "patient_given_name", "visit_end_date", "facility", "department",
            "provider", "payer", "statement_number", "statement_date", "due_date", "service_date", "quantity",
            "currency", "allowed", "insurance_paid", "adjustment", "deductible", "copay", "coinsurance",
            "not_covered", "status")
COLUMNS = REQUIRED + OPTIONAL
CODE_SYSTEMS = ("cpt", "hcpcs", "revenue", "snomed", "cvx", "ndc", "rxnorm", "local")
# What every row of one visit must agree on.
VISIT_FIELDS = ("account_number", "patient_id", "visit_date", "visit_end_date", "facility", "department",
                "provider", "payer", "statement_number", "statement_date", "due_date", "currency", "status")
MAX_BYTES = 200 * 1024 * 1024
MAX_QUANTITY = 100_000
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: "²".isdigit() is true


def read_text(path: str) -> str:
    """A CSV file's text (UTF-8, with or without a byte order mark), up to 200 MB."""
    file = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise BadInput(f"cannot be read ({error.strerror})", file=file) from None
    if len(data) > MAX_BYTES:
        raise BadInput("is larger than 200 MB: split it into several files", file=file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("is not UTF-8 text", file=file) from None


def unit_from_csv_file(path: str, hospital: Hospital) -> Unit:
    file = os.path.basename(path)
    text = read_text(path)
    try:
        return unit_from_csv_text(text, file, hospital)
    except BadInput as error:
        error.file = file
        raise


def cell_date(value: str, where: str) -> date:
    """A YYYY-MM-DD cell; ``where`` names the row (and column) in the message."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{value[:30]!r} is not a date (YYYY-MM-DD)", where) from None


def cell_amount(value: str, currency: str, where: str) -> int:
    """An amount cell ("123.45") in minor units of ``currency``, with no more decimals than it has."""
    try:
        places = -Decimal(value.strip()).as_tuple().exponent
    except (InvalidOperation, TypeError):
        raise BadInput(f"{value[:30]!r} is not an amount", where) from None
    if isinstance(places, int) and places > get_currency_precision(currency):
        raise BadInput(f"{value[:30]!r} has more decimals than {currency} has", where)
    try:
        return to_minor(value, currency, what=value[:30])
    except BadInput as error:
        raise BadInput(error.reason, where) from None


def unit_from_csv_text(text: str, file: str, hospital: Hospital) -> Unit:
    if has_nul(text):
        raise BadInput("holds a NUL character, which no bill has: the file is damaged or not text", "")
    try:
        return _read(csv.DictReader(io.StringIO(text, newline="")), file, hospital)
    except csv.Error as error:
        # A field longer than the csv module allows (128 KB), a stray NUL…: the line is not CSV.
        raise BadInput(f"is not readable CSV ({error})", "") from None


def _read(reader: csv.DictReader, file: str, hospital: Hospital) -> Unit:
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadInput(f"the header lacks the column(s) {', '.join(missing)}", "header")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise BadInput(f"unknown column(s) {', '.join(unknown[:5])}", "header")
    unit = Unit(file=file, label=file)
    visits: dict[str, dict] = {}
    for number, raw in enumerate(reader, start=2):
        if None in raw:
            raise BadInput("it has more fields than the header", f"row {number}")
        row = {name.strip(): (value or "").strip() for name, value in raw.items()}
        if not any(row.values()):
            continue
        where = f"row {number}"
        for name in REQUIRED:
            if not row.get(name):
                raise BadInput(f"{name} is empty", where)
        currency = row.get("currency") or hospital.currency
        if currency != hospital.currency:
            raise BadInput(f"the currency is {currency[:8]}, but this hospital bills in {hospital.currency}", where)
        account_key = f"csv:{row['account_number']}"
        patient_key = f"csv:patient/{row['patient_id']}"
        if len(row["account_number"]) > 20 or len(row["patient_id"]) > 40:
            raise BadInput("account_number (20) or patient_id (40) is too long", where)
        locale = locale_from_header([(row["language"], 1.0)], list(hospital.locales)) if row.get("language") else None
        account = AccountRecord(account_key, row["guarantor_name"][:200], row.get("mailing_address", ""), locale,
                                row["account_number"])
        if unit.accounts.setdefault(account_key, account) != account:
            raise BadInput(f"account {row['account_number']} has different details on an earlier row", where)
        patient = PatientRecord(patient_key, account_key, row["patient_id"], row.get("patient_given_name", "")[:100],
                                row["patient_family_name"][:100], cell_date(row["patient_birth_date"], where))
        if unit.patients.setdefault(patient_key, patient) != patient:
            raise BadInput(f"patient {row['patient_id']} has different details on an earlier row", where)
        visit_key = f"csv:{row['account_number']}/{row['visit_id']}"
        facts = {name: row.get(name, "") for name in VISIT_FIELDS}
        visit = visits.setdefault(visit_key, {"facts": facts, "rows": [], "first": where})
        if visit["facts"] != facts:
            differing = next(name for name in VISIT_FIELDS if visit["facts"][name] != facts[name])
            raise BadInput(f"visit {row['visit_id']} has a different {differing} on {visit['first']}", where)
        visit["rows"].append((where, row))
    if not visits:
        raise BadInput("has no rows", "")
    numbers: dict[str, str] = {}
    for key, visit in visits.items():
        claim = _claim(key, visit["facts"], visit["rows"], hospital)
        if claim.statement_number:
            owner = numbers.setdefault(claim.statement_number, claim.account_key)
            if owner != claim.account_key:
                raise BadInput(f"statement number {claim.statement_number} is used for two accounts", claim.resource)
        unit.claims.append(claim)
    return unit


def _claim(key: str, facts: dict[str, str], rows: list[tuple[str, dict]], hospital: Hospital) -> ClaimRecord:
    where, first = rows[0]
    visit_date = cell_date(facts["visit_date"], where)
    end_date = cell_date(facts["visit_end_date"], where) if facts["visit_end_date"] else None
    if end_date and end_date < visit_date:
        raise BadInput("visit_end_date is before visit_date", where)
    number = "".join(facts["statement_number"].split()).replace("-", "")
    if number and (not _DIGITS.fullmatch(number) or len(number) > 20):
        raise BadInput("statement_number must be digits only (at most 20)", where)
    status = facts["status"].lower()
    if status not in ("", "active", "cancelled"):
        raise BadInput("status must be empty, active or cancelled", where)
    insured = bool(facts["payer"])
    lines = [] if status == "cancelled" else [_line(row, where, insured, visit_date, end_date, hospital)
                                               for where, row in rows]
    return ClaimRecord(
        key=key, resource=f"visit {first['visit_id']} ({where})", patient_key=f"csv:patient/{first['patient_id']}",
        account_key=f"csv:{first['account_number']}", currency=hospital.currency, visit_date=visit_date,
        end_date=end_date, facility=(facts["facility"] or hospital.name)[:200],
        department=(facts["department"] or "Outpatient clinic")[:200], provider=facts["provider"][:200],
        payer=facts["payer"][:200] or None, lines=tuple(lines), cancelled=status == "cancelled",
        statement_number=number or None,
        statement_date=cell_date(facts["statement_date"], where) if facts["statement_date"] else None,
        due_date=cell_date(facts["due_date"], where) if facts["due_date"] else None)


def _line(row: dict, where: str, insured: bool, visit_date: date, end_date: date | None,
          hospital: Hospital) -> LineRecord:
    system = row["code_system"].lower()
    if system not in CODE_SYSTEMS:
        raise BadInput(f"code_system must be one of {', '.join(CODE_SYSTEMS)}", where)
    if len(row["code"]) > 20:
        raise BadInput("code is longer than 20 characters", where)
    served = cell_date(row["service_date"], where) if row.get("service_date") else visit_date
    if not visit_date <= served <= (end_date or visit_date):
        raise BadInput("service_date is outside the visit's dates", where)
    quantity = row.get("quantity") or "1"
    if not _DIGITS.fullmatch(quantity) or not 1 <= int(quantity) <= MAX_QUANTITY:
        raise BadInput(f"quantity must be a whole number from 1 to {MAX_QUANTITY}", where)
    amounts = {name: cell_amount(row[name], hospital.currency, f"{where}, {name}") if row.get(name) else None
               for name in AMOUNT_COLUMNS}
    charge = amounts["charge"]
    if not insured:
        if any(amounts[name] for name in ("allowed", "insurance_paid", "deductible", "copay", "coinsurance",
                                          "not_covered")):
            raise BadInput("a visit with no payer is self-pay: only charge and adjustment (a discount) may be given",
                           where)
        discount = amounts["adjustment"] or 0
        if discount > charge:
            raise BadInput("the adjustment is more than the charge", where)
        settled = {"charge": charge, "allowed": None, "insurance_paid": 0, "adjustment": discount,
                   "deductible": 0, "copay": 0, "coinsurance": 0, "not_covered": 0}
    else:
        if amounts["allowed"] is None:
            raise BadInput("allowed is empty: a visit with a payer needs the allowed amount", where)
        if amounts["allowed"] > charge:
            raise BadInput("allowed is more than the charge", where)
        settled = {name: amounts[name] or 0 for name in AMOUNT_COLUMNS}
        settled["allowed"] = amounts["allowed"]
        if amounts["adjustment"] is None:
            settled["adjustment"] = charge - amounts["allowed"]
        parts = sum(settled[n] for n in ("insurance_paid", "adjustment", "deductible", "copay", "coinsurance",
                                         "not_covered"))
        if parts != charge or settled["adjustment"] != charge - settled["allowed"]:
            raise BadInput("insurance_paid, adjustment, deductible, copay, coinsurance and not_covered must add up "
                           "to the charge, with adjustment = charge - allowed", where)
    return LineRecord(system, row["code"], row["description"][:300], int(quantity), served, settled)
