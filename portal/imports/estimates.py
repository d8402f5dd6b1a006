"""Good faith estimates from the billing system: ``flask --app portal import estimates FILE.csv``.

One row per visit already imported, named as its import named it: ``account_number`` and ``visit_id`` for a
visit from a CSV file, or ``claim`` (the FHIR Claim's id) for one from FHIR; then ``estimate`` (the amount the
patient was told, "1250.00") and ``estimate_date`` (when, YYYY-MM-DD), and optionally ``currency`` (the
hospital's by default; it must be the statement's). Importing a file again changes nothing; a new amount or date
replaces the visit's estimate. A file is all or nothing: one bad row, or a visit the portal does not have (import
its bill first), and nothing of it is written.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..billing.models import GoodFaithEstimate, Statement, Visit, utcnow
from ..errors import has_nul
from ..extensions import db
from .csv_rows import cell_amount, cell_date
from .models import ACTIVE, ImportedClaim
from .records import BadInput

COLUMNS = ("account_number", "visit_id", "claim", "estimate", "estimate_date", "currency")


@dataclass(frozen=True)
class EstimateRow:
    where: str  # "row 7"
    source_key: str  # as ImportedClaim.source_key names the visit's claim
    amount: int
    currency: str
    given_on: date


@dataclass
class EstimateCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def rows_from_text(text: str, currency: str) -> list[EstimateRow]:
    """Read and check every row (``currency``: the hospital's, for rows that name none)."""
    if has_nul(text):
        raise BadInput("holds a NUL character: the file is damaged or not text")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip() for name in reader.fieldnames or []]
        unknown = [name for name in header if name not in COLUMNS]
        if unknown:
            raise BadInput(f"unknown column(s) {', '.join(unknown[:5])}", "header")
        missing = [name for name in ("estimate", "estimate_date") if name not in header]
        if missing or not ("claim" in header or {"account_number", "visit_id"} <= set(header)):
            raise BadInput("the header needs estimate, estimate_date and either claim or account_number and "
                           "visit_id", "header")
        rows, seen = [], {}
        for number, raw in enumerate(reader, start=2):
            if None in raw:
                raise BadInput("it has more fields than the header", f"row {number}")
            row = {name.strip(): (value or "").strip() for name, value in raw.items()}
            if any(row.values()):
                rows.append(_row(row, f"row {number}", currency, seen))
        return rows
    except csv.Error as error:
        raise BadInput(f"is not readable CSV ({error})") from None


def _row(row: dict[str, str], where: str, default_currency: str, seen: dict[str, str]) -> EstimateRow:
    if row.get("claim"):
        claim = row["claim"].removeprefix("Claim/")
        source_key = f"fhir:Claim/{claim}"
    elif row.get("account_number") and row.get("visit_id"):
        source_key = f"csv:{row['account_number']}/{row['visit_id']}"
    else:
        raise BadInput("names no visit: fill in claim, or account_number and visit_id", where)
    if source_key in seen:
        raise BadInput(f"is the same visit as {seen[source_key]}", where)
    seen[source_key] = where
    for name in ("estimate", "estimate_date"):
        if not row.get(name):
            raise BadInput(f"{name} is empty", where)
    currency = (row.get("currency") or default_currency).upper()
    return EstimateRow(where, source_key, cell_amount(row["estimate"], currency, f"{where}, estimate"), currency,
                       cell_date(row["estimate_date"], f"{where}, estimate_date"))


def load(rows: list[EstimateRow], organisation_id: int) -> EstimateCounts:
    """Write the estimates into the session (the caller commits, or rolls back on BadInput)."""
    counts = EstimateCounts()
    found: dict[str, tuple[int, str]] = {}
    for keys in _chunks([row.source_key for row in rows]):
        found.update((key, (visit_id, currency)) for key, visit_id, currency in db.session.execute(
            select(ImportedClaim.source_key, Visit.id, Statement.currency)
            .join(Visit, ImportedClaim.visit_id == Visit.id).join(Statement, Visit.statement_id == Statement.id)
            .where(ImportedClaim.organisation_id == organisation_id, ImportedClaim.status == ACTIVE,
                   ImportedClaim.source_key.in_(keys))))
    unknown = [row for row in rows if row.source_key not in found]
    if unknown:
        listed = ", ".join(f"{row.where} ({row.source_key.split(':', 1)[1]})" for row in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise BadInput(f"no imported visit for {listed}{more}: import its bill first")
    for row in rows:
        if row.currency != found[row.source_key][1]:
            raise BadInput(f"the estimate is in {row.currency} but the visit's statement is in "
                           f"{found[row.source_key][1]}", row.where)
    existing = {estimate.visit_id: estimate for visits in _chunks([visit for visit, _c in found.values()])
                for estimate in db.session.scalars(
                    select(GoodFaithEstimate).where(GoodFaithEstimate.visit_id.in_(visits)))}
    for row in rows:
        visit_id = found[row.source_key][0]
        estimate = existing.get(visit_id)
        if estimate is None:
            db.session.add(GoodFaithEstimate(visit_id=visit_id, amount=row.amount, currency=row.currency,
                                             given_on=row.given_on))
            counts.added += 1
        elif (estimate.amount, estimate.currency, estimate.given_on) == (row.amount, row.currency, row.given_on):
            counts.unchanged += 1
        else:
            estimate.amount, estimate.currency, estimate.given_on = row.amount, row.currency, row.given_on
            estimate.updated_at = utcnow()
            counts.updated += 1
    return counts


def _chunks(values: list, size: int = 500) -> list[list]:
    # A query per 500 keys: SQLite limits the parameters of one statement.
    return [values[start:start + size] for start in range(0, len(values), size)]
