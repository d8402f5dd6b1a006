"""Write import records into the billing tables: find or make accounts, patients and statements, and apply
each claim once. Services add and flush; the command commits (or, for a dry run, rolls back) each unit.

Idempotency: accounts and patients are found again by where they came from (``source_key``), statements by
guarantor and billing period (or the billing system's own number), and claims by their key; a claim whose
digest has not changed is not touched. A corrected claim updates its visit and lines in place (a question
about a line keeps pointing at it), and a cancelled one takes its visit off the statement.
"""
from __future__ import annotations

import secrets
from calendar import monthrange
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, insert, select, update

from ..audit.models import AuditEvent
from ..billing.models import Account, BalanceAdjustment, LineItem, Organisation, Patient, Statement, Visit
from ..disputes.models import LineDispute
from ..extensions import db
from ..glossary.services import describe_codes, normalise_code
from ..questions.models import Question
from .models import ACTIVE, CANCELLED, ImportedClaim
from .records import AMOUNT_COLUMNS, BadInput, ClaimRecord, Unit, UnknownCode

PERIODS = ("weekly", "monthly", "quarterly")


def billing_period(day: date, period: str) -> tuple[date, date]:
    """The first and last day of the billing period ``day`` falls in."""
    if period == "weekly":  # Monday to Sunday
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "quarterly":
        first_month = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, first_month, 1)
        return start, date(day.year, first_month + 2, monthrange(day.year, first_month + 2)[1])
    if period == "monthly":
        return day.replace(day=1), day.replace(day=monthrange(day.year, day.month)[1])
    raise ValueError(f"unknown billing period {period!r}")


@dataclass
class Counts:
    """What one unit (or a whole run) changed."""

    accounts_created: int = 0
    accounts_updated: int = 0
    patients_created: int = 0
    patients_updated: int = 0
    claims_created: int = 0
    claims_updated: int = 0
    claims_unchanged: int = 0
    claims_cancelled: int = 0
    lines_created: int = 0
    lines_updated: int = 0
    lines_removed: int = 0
    # Statement numbers: made, changed (their cached PDFs are discarded after the commit), and left with no
    # visit by cancelled or moved claims.
    new_statements: set[str] = field(default_factory=set)
    changed_statements: set[str] = field(default_factory=set)
    emptied_statements: set[str] = field(default_factory=set)
    # The statements visits left during this unit (checked for emptiness at its end).
    left_statements: set = field(default_factory=set)

    @property
    def statements_created(self) -> int:
        return len(self.new_statements)

    @property
    def statements_updated(self) -> int:
        return len(self.changed_statements - self.new_statements)

    @property
    def statements_emptied(self) -> int:
        return len(self.emptied_statements)

    def add(self, other: Counts) -> None:
        for name, value in vars(other).items():
            if name == "left_statements":
                continue
            if isinstance(value, set):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)


def _unused_numbers(column, count: int, digits: int, where=None) -> list[str]:  # noqa: ANN001 (a column)
    """``count`` random numbers of ``digits`` digits not yet in ``column``: printed numbers are not
    sequential, so one statement's number says nothing about the next one's."""
    found: list[str] = []
    while len(found) < count:
        wanted = {str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))
                  for _ in range(count - len(found))}
        query = select(column).where(column.in_(wanted))
        if where is not None:
            query = query.where(where)
        taken = set(db.session.scalars(query))
        found += [number for number in wanted - taken if number not in found]
    return found


def load_unit(unit: Unit, organisation: Organisation, *, now: datetime | None = None) -> Counts:
    """Write one unit's accounts, patients and claims; raises BadInput (nothing flushed is meant to stay)."""
    now = now or datetime.now(timezone.utc)
    counts = Counts()
    accounts = _accounts(unit, organisation, counts)
    patients = _patients(unit, organisation, accounts, counts)
    db.session.flush()  # ids for new accounts: statements are found by account and period
    keys = [claim.key for claim in unit.claims]
    known = {row.source_key: row for row in db.session.scalars(
        select(ImportedClaim).where(ImportedClaim.organisation_id == organisation.id,
                                    ImportedClaim.source_key.in_(keys)))} if keys else {}
    cache = _statements_by_period(unit, organisation, patients)
    # New visits' lines and new claims' rows, written in one executemany each once the visits have ids: an
    # ORM object per line costs most of an import's time.
    pending: _Pending = _Pending()
    seen = set()
    for claim in unit.claims:
        if claim.key in seen:
            raise BadInput("the same claim appears twice in one file", claim.resource)
        seen.add(claim.key)
        patient = patients.get(claim.patient_key)
        if patient is None:
            raise BadInput(f"its patient ({claim.patient_key.partition(':')[2]}) is not in the file and was not "
                           f"imported before", claim.resource)
        _apply_claim(claim, known.get(claim.key), patient, organisation, unit.file, counts, now, cache, pending)
    db.session.flush()
    pending.write()
    _count_emptied(counts)
    _audit(counts, now)
    return counts


@dataclass
class _Pending:
    lines: list[tuple[Visit, dict]] = field(default_factory=list)
    claims: list[tuple[Visit, dict]] = field(default_factory=list)

    def write(self) -> None:
        if self.lines:
            db.session.execute(insert(LineItem), [{"visit_id": visit.id, **values} for visit, values in self.lines])
        if self.claims:
            db.session.execute(insert(ImportedClaim), [{"visit_id": visit.id, **values}
                                                       for visit, values in self.claims])


def _audit(counts: Counts, now: datetime) -> None:
    """One audit event per statement the import made, changed or emptied: bills change under the patient's
    eyes only with a record of when and by what."""
    touched = counts.new_statements | counts.changed_statements
    if not touched:
        return
    ids = dict(db.session.execute(select(Statement.number, Statement.id).where(Statement.number.in_(touched))).all())
    rows = []
    for number in sorted(touched):
        if number in counts.emptied_statements:
            action = "statement.emptied_by_import"
        elif number in counts.new_statements:
            action = "statement.imported"
        else:
            action = "statement.corrected_by_import"
        rows.append({"action": action, "actor_kind": "import", "subject_type": "statement",
                     "subject_id": ids.get(number), "occurred_at": now})
    db.session.execute(insert(AuditEvent), rows)


def _accounts(unit: Unit, organisation: Organisation, counts: Counts) -> dict[str, Account]:
    wanted = unit.accounts
    if not wanted:
        return {}
    found = {a.source_key: a for a in db.session.scalars(
        select(Account).where(Account.organisation_id == organisation.id, Account.source_key.in_(wanted)))}
    # The billing system's own numbers (CSV) find accounts made before the importer remembered them.
    numbered = [r.number for r in wanted.values() if r.number and r.key not in found]
    if numbered:
        for account in db.session.scalars(select(Account).where(Account.organisation_id == organisation.id,
                                                                 Account.number.in_(numbered))):
            record = next(r for r in wanted.values() if r.number == account.number)
            if account.source_key not in (None, record.key):
                raise BadInput(f"account number {account.number} belongs to another account", record.key)
            account.source_key = record.key
            found[record.key] = account
    missing = [r for r in wanted.values() if r.key not in found]
    numbers = iter(_unused_numbers(Account.number, sum(1 for r in missing if not r.number), 9,
                                   Account.organisation_id == organisation.id)) if missing else iter(())
    for record in missing:
        account = Account(organisation=organisation, source_key=record.key, number=record.number or next(numbers),
                          guarantor_name=record.guarantor_name, mailing_address=record.mailing_address,
                          preferred_locale=record.locale or organisation.default_locale)
        db.session.add(account)
        found[record.key] = account
        counts.accounts_created += 1
    for record in wanted.values():
        account = found[record.key]
        if account in db.session.new:
            continue
        changes = {"guarantor_name": record.guarantor_name, "mailing_address": record.mailing_address}
        if record.locale:
            changes["preferred_locale"] = record.locale
        if any(getattr(account, name) != value for name, value in changes.items()):
            for name, value in changes.items():
                setattr(account, name, value)
            counts.accounts_updated += 1
    return found


def _patients(unit: Unit, organisation: Organisation, accounts: dict[str, Account],
              counts: Counts) -> dict[str, Patient]:
    keys = set(unit.patients) | {claim.patient_key for claim in unit.claims}
    if not keys:
        return {}
    found = {p.source_key: p for p in db.session.scalars(
        select(Patient).join(Account).where(Account.organisation_id == organisation.id,
                                            Patient.source_key.in_(keys)))}
    for record in unit.patients.values():
        patient = found.get(record.key)
        values = {"mrn": record.mrn, "given_name": record.given_name, "family_name": record.family_name,
                  "birth_date": record.birth_date}
        if patient is None:
            account = accounts.get(record.account_key)
            if account is None:
                account = db.session.scalar(select(Account).where(Account.organisation_id == organisation.id,
                                                                  Account.source_key == record.account_key))
            if account is None:
                raise BadInput(f"the policy holder ({record.account_key.partition(':')[2]}) is not in the file "
                               f"and was not imported before", record.key.partition(":")[2])
            # A patient entered before the importer knew them (the same MRN on the same account) is adopted.
            patient = db.session.scalar(select(Patient).where(
                Patient.account_id == account.id, Patient.mrn == record.mrn,
                Patient.source_key.is_(None))) if account.id is not None else None
            if patient is not None:
                patient.source_key = record.key
                found[record.key] = patient
                if any(getattr(patient, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(patient, name, value)
                    counts.patients_updated += 1
                continue
            patient = Patient(account=account, source_key=record.key, **values)
            db.session.add(patient)
            found[record.key] = patient
            counts.patients_created += 1
        elif any(getattr(patient, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(patient, name, value)
            counts.patients_updated += 1
    # A patient stays on the account they were first imported under: their bills and payments are there.
    return found


def _statements_by_period(unit: Unit, organisation: Organisation, patients: dict[str, Patient]) -> dict:
    """The existing statements this unit's claims may go on, by (account id, first day, last day), in one
    query. A period is its first and last day, so that statements made before the hospital changed its
    billing period (a month, then a quarter from the same first day) are never taken for the new ones."""
    account_ids = {patients[c.patient_key].account_id for c in unit.claims if c.patient_key in patients}
    starts = {billing_period(c.visit_date, organisation.statement_period)[0]
              for c in unit.claims if not c.cancelled and not c.statement_number}
    account_ids.discard(None)
    if not account_ids or not starts:
        return {}
    return {(s.account_id, s.period_start, s.statement_date): s for s in db.session.scalars(
        select(Statement).where(Statement.account_id.in_(account_ids), Statement.period_start.in_(starts)))}


def _statement_for(claim: ClaimRecord, account: Account, organisation: Organisation, counts: Counts,
                   cache: dict, current: Statement | None = None) -> Statement:
    """The statement a claim goes on: the billing system's own (CSV), else the guarantor's for the period of
    the date of care. A corrected claim stays on its ``current`` statement while its date is still within
    that statement's period, even if the hospital has changed its billing period since."""
    if current is not None and not claim.statement_number and current.period_start is not None \
            and current.account_id == account.id and current.period_start <= claim.visit_date <= current.statement_date:
        return current
    if claim.statement_number:
        statement = db.session.scalar(select(Statement).where(Statement.number == claim.statement_number))
        if statement is not None and statement.account_id != account.id:
            raise BadInput(f"statement number {claim.statement_number} already belongs to another account",
                           claim.resource)
        start = None
        statement_date = claim.statement_date or billing_period(claim.visit_date, organisation.statement_period)[1]
    else:
        start, statement_date = billing_period(claim.visit_date, organisation.statement_period)
        statement = cache.get((account.id, start, statement_date))
    if statement is None:
        pool = cache.setdefault("numbers", [])
        if not claim.statement_number and not pool:
            pool += _unused_numbers(Statement.number, 32, 10)
        number = claim.statement_number or pool.pop()
        due = claim.due_date or statement_date + timedelta(days=organisation.payment_due_days)
        statement = Statement(account=account, number=number, statement_date=statement_date,
                              due_date=max(due, statement_date), currency=organisation.currency, period_start=start)
        db.session.add(statement)
        counts.new_statements.add(number)
    elif statement.currency != claim.currency:
        raise BadInput(f"statement {statement.number} is in {statement.currency}, the claim in {claim.currency}",
                       claim.resource)
    if start is not None:
        cache[(account.id, start, statement_date)] = statement
    return statement


def _apply_claim(claim: ClaimRecord, known: ImportedClaim | None, patient: Patient, organisation: Organisation,
                 file: str, counts: Counts, now: datetime, cache: dict, pending: _Pending) -> None:
    digest = claim.digest()
    if known is not None and known.digest == digest:
        counts.claims_unchanged += 1
        return
    visit = known.visit if known is not None else None
    if claim.cancelled:
        if visit is not None:
            _remove_visit(visit, counts)
        if known is not None:
            known.status, known.digest, known.visit, known.updated_at, known.source_file = (
                CANCELLED, digest, None, now, file)
            counts.claims_cancelled += 1
        else:
            db.session.add(ImportedClaim(organisation_id=organisation.id, source_key=claim.key, digest=digest,
                                         status=CANCELLED, source_file=file, imported_at=now, updated_at=now))
        return
    if claim.currency != organisation.currency:
        raise BadInput(f"the claim is in {claim.currency}, but this hospital bills in {organisation.currency}",
                       claim.resource)
    statement = _statement_for(claim, patient.account, organisation, counts, cache,
                               visit.statement if visit is not None else None)
    if visit is None:
        visit = Visit(statement=statement, patient=patient)
        db.session.add(visit)
    elif visit.statement is not statement:
        counts.changed_statements.add(visit.statement.number)
        counts.left_statements.add(visit.statement)
        visit.statement = statement
    counts.changed_statements.add(statement.number)
    visit.patient = patient
    visit.visit_date, visit.end_date = claim.visit_date, claim.end_date
    visit.facility, visit.department, visit.provider, visit.payer = (
        claim.facility, claim.department, claim.provider, claim.payer)
    existing = list(visit.lines) if visit.id is not None else []
    pairs = _match_lines(existing, claim)
    for line, values in pairs:
        if line is not None:
            if any(getattr(line, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(line, name, value)
                counts.lines_updated += 1
        elif visit.id is None:
            pending.lines.append((visit, values))
            counts.lines_created += 1
        else:
            visit.lines.append(LineItem(**values))
            counts.lines_created += 1
    matched = {id(line) for line, _values in pairs if line is not None}
    for line in [line for line in existing if id(line) not in matched]:
        _forget_line(line)
        visit.lines.remove(line)
        counts.lines_removed += 1
    if known is None:
        pending.claims.append((visit, {"organisation_id": organisation.id, "source_key": claim.key, "digest": digest,
                                       "status": ACTIVE, "source_file": file, "imported_at": now,
                                       "updated_at": now}))
        counts.claims_created += 1
    else:
        counts.claims_updated += 1
        known.status, known.digest, known.visit, known.updated_at, known.source_file = (
            ACTIVE, digest, visit, now, file)


def _match_lines(existing: list[LineItem], claim: ClaimRecord) -> list[tuple[LineItem | None, dict]]:
    """Pair each of the claim's lines with the stored line it corrects: the same service code first (so a
    question about a flu shot stays about the flu shot when lines are added or reordered), then what is left
    in order; None for a new line."""
    wanted = []
    for position, record in enumerate(claim.lines):
        wanted.append({"position": position, "service_date": record.service_date, "code_system": record.code_system,
                       "code": record.code, "description": record.description, "quantity": record.quantity,
                       **{name: record.amounts.get(name, 0) if name != "allowed" else record.amounts.get("allowed")
                          for name in AMOUNT_COLUMNS}})
    free = list(existing)
    pairs: list[LineItem | None] = [None] * len(wanted)
    for index, values in enumerate(wanted):
        same = next((line for line in free if (line.code_system, line.code) == (values["code_system"], values["code"])),
                    None)
        if same is not None:
            pairs[index] = same
            free.remove(same)
    for index in range(len(wanted)):
        if pairs[index] is None and free:
            pairs[index] = free.pop(0)
    return list(zip(pairs, wanted))


def _forget_line(line: LineItem) -> None:
    # A question, a dispute or a correction about a line that a correction removed stays about its statement (a
    # correction's money stays taken off: the billing office settles it with the patient).
    if line.id is not None:
        for model in (Question, LineDispute, BalanceAdjustment):
            db.session.execute(update(model).where(model.line_item_id == line.id).values(line_item_id=None))


def _remove_visit(visit: Visit, counts: Counts) -> None:
    counts.changed_statements.add(visit.statement.number)
    counts.left_statements.add(visit.statement)
    for line in visit.lines:
        _forget_line(line)
        counts.lines_removed += 1
    db.session.delete(visit)


def _count_emptied(counts: Counts) -> None:
    """Note the statements a cancellation or a move left with no visit. They are kept, not deleted: the
    patient may hold the paper bill (its number still opens it, showing nothing due), a payment or a question
    may refer to it, and its id is never given to another statement."""
    for statement in counts.left_statements:
        if not db.session.scalar(select(func.count()).select_from(Visit).where(Visit.statement_id == statement.id)):
            counts.emptied_statements.add(statement.number)


def check_codes(codes: Iterable[UnknownCode]) -> list[UnknownCode]:
    """The codes the service dictionary has no plain-language entry for (in the source language)."""
    codes = list(codes)
    known = describe_codes(((c.code_system, c.code) for c in codes), "en")
    return [c for c in codes if (c.code_system, normalise_code(c.code_system, c.code)) not in known]


def line_codes(units: Iterable[Unit]) -> list[UnknownCode]:
    """Every distinct (code system, code) on these units' lines, with the first description seen."""
    seen: dict[tuple[str, str], UnknownCode] = {}
    for unit in units:
        for claim in unit.claims:
            for line in claim.lines:
                seen.setdefault((line.code_system, line.code),
                                UnknownCode(line.code_system, line.code, line.description))
    return list(seen.values())


def code_counts(units: Iterable[Unit]) -> Counter:
    """How many lines carry each (code system, code)."""
    found: Counter = Counter()
    for unit in units:
        for claim in unit.claims:
            for line in claim.lines:
                found[(line.code_system, line.code)] += 1
    return found
