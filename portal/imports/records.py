"""What an importer reads out of a file, before it touches the database: plain values, checked and in minor units.

The FHIR and CSV readers both produce these, and one loader writes them, so both formats follow the same
rules for accounts, statements, corrections and idempotency.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import date

# The amount columns of a line, as LineItem names them.
AMOUNT_COLUMNS = ("charge", "allowed", "insurance_paid", "adjustment", "deductible", "copay", "coinsurance",
                  "not_covered")


class BadInput(ValueError):
    """Something in a file the portal cannot take in: the file, the resource (or row) and the reason."""

    def __init__(self, reason: str, resource: str = "", file: str = "") -> None:
        super().__init__(reason)
        self.reason, self.resource, self.file = reason, resource, file


@dataclass(frozen=True)
class AccountRecord:
    """A guarantor account: the person responsible for the bills."""

    key: str
    guarantor_name: str
    mailing_address: str
    # A supported portal locale, or None to leave the account's language as it is (new: the hospital's).
    locale: str | None = None
    # The billing system's own account number (CSV); None lets the portal number the account.
    number: str | None = None


@dataclass(frozen=True)
class PatientRecord:
    key: str
    account_key: str
    mrn: str
    given_name: str
    family_name: str
    birth_date: date


@dataclass(frozen=True)
class LineRecord:
    code_system: str
    code: str
    description: str
    quantity: int
    service_date: date
    # Minor units; "allowed" is None for a self-pay line. The parts always add up to the charge.
    amounts: dict[str, int | None]


@dataclass(frozen=True)
class ClaimRecord:
    """One claim: it becomes one visit, with its lines, on the guarantor's statement for its billing period."""

    key: str
    resource: str  # what the report calls it: "ExplanationOfBenefit/123", "row 7"
    patient_key: str
    account_key: str
    currency: str
    visit_date: date
    end_date: date | None
    facility: str
    department: str
    provider: str
    payer: str | None
    lines: tuple[LineRecord, ...]
    cancelled: bool = False
    # The billing system's own statement (CSV); None groups the claim by billing period.
    statement_number: str | None = None
    statement_date: date | None = None
    due_date: date | None = None

    def digest(self) -> str:
        """A hash of everything the portal keeps from this claim: equal digests mean nothing to update."""
        # Shallow copies (dataclasses.asdict deep-copies every amount): the same text, a quarter of the time.
        # Not the resource's name, nor the account key (the patient's account is found from the patient, and a
        # file that leaves the Patient out would otherwise look like a correction).
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("resource", "account_key")}
        values["lines"] = [{f.name: getattr(line, f.name) for f in fields(line)} for line in self.lines]
        text = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Skipped:
    resource: str
    reason: str


@dataclass(frozen=True)
class UnknownCode:
    code_system: str
    code: str
    description: str


@dataclass
class Unit:
    """What is imported in one transaction: a bundle, one patient's NDJSON resources, or a CSV file."""

    file: str
    label: str
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    patients: dict[str, PatientRecord] = field(default_factory=dict)
    claims: list[ClaimRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Resource types present but not billing data (Observation, Condition…), by count.
    ignored: dict[str, int] = field(default_factory=dict)
