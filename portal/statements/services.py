"""Printing a statement as PDF: which language, which version, and the cache in front of WeasyPrint.

A statement's *content version* is a digest of everything its PDF shows (the statement, its visits, lines
and settled payments, the guarantor's and the hospital's details, its status, the glossary and the plain
names in that language) and of everything that prints it (template, stylesheet, code, catalog). Working it
out takes a few small queries, much less than printing, so a download first asks the cache for that version
and prints only when it is new: any change to the statement makes a new version, never a stale PDF.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from ..billing.models import BalanceAdjustment, GoodFaithEstimate, LineItem, Patient, Statement, Visit
from ..billing.services import StatementSummary, organisation_today
from ..extensions import db
from ..glossary.cache import current_token as content_token
from ..glossary.services import service_names
from ..i18n import _, language_choices
from ..money import Money
from ..disputes.models import LineDispute
from ..questions.models import Question, StaffProfile
from ..questions.services import account_contact
from ..payments.models import SETTLED_STATUSES, Payment
from . import cache, pdf


@dataclass(frozen=True)
class Language:
    """The language a statement is printed in, and whether the one asked for had to be replaced."""

    locale: str
    requested: str | None = None

    @property
    def replaced(self) -> bool:
        return self.requested is not None


def supported_locales() -> list[str]:
    return list(current_app.config["SUPPORTED_LOCALES"])


def print_language(statement: Statement, requested: str | None, active: str) -> Language:
    """Pick the language: ``requested`` (``?lang=``) when supported, else ``active`` (the page's language).

    An unsupported request falls back to the patient's own language (the account's preference) when the
    portal offers it, and is remembered so that the PDF can say why it is not in the language asked for.
    """
    supported = supported_locales()
    if not requested:
        return Language(active if active in supported else current_app.config["DEFAULT_LOCALE"])
    wanted = requested.replace("-", "_")
    for locale in supported:
        if locale.lower() == wanted.lower():
            return Language(locale)
    patient = statement.account.preferred_locale
    fallback = patient if patient in supported else (active if active in supported
                                                     else current_app.config["DEFAULT_LOCALE"])
    return Language(fallback, requested=requested[:40])


def language_name(locale: str) -> str:
    """The language's name in that language ("English", "Español")."""
    return dict(language_choices()).get(locale, locale)


def fallback_note(language: Language) -> str | None:
    """The sentence printed at the top of a statement whose requested language is not offered."""
    if not language.replaced:
        return None
    # The same sentence whatever was asked for, so that odd ?lang= values all find the one cached PDF.
    with force_locale(language.locale):
        return _("This statement is not available in the language you asked for, so it is printed in "
                 "%(language)s.", language=language_name(language.locale))


def _iso(value) -> str | None:  # noqa: ANN001 (a date, a datetime or None)
    return value.isoformat() if value is not None else None


_LINE_COLUMNS = (LineItem.id, LineItem.position, LineItem.service_date, LineItem.code_system, LineItem.code,
                 LineItem.description, LineItem.quantity, LineItem.charge, LineItem.allowed, LineItem.insurance_paid,
                 LineItem.adjustment, LineItem.deductible, LineItem.copay, LineItem.coinsurance, LineItem.not_covered)


def _contact_facts(account_id: int) -> list | None:
    # The named person printed under "Questions about this bill?": a new assignee is a new version.
    profile = account_contact(account_id)
    return [profile.display_name, profile.job_title, profile.languages] if profile else None


def content_version(statement: Statement, locale: str, *, note: str | None = None,
                    now: datetime | None = None, itemised: bool = False) -> str:
    """The digest that names this statement's PDF in ``locale`` (see the module's docstring).

    Read with a few narrow queries rather than the ORM objects the page is printed from: a cached download
    costs these queries and nothing else.
    """
    account = statement.account
    organisation = account.organisation
    rows = db.session.execute(
        select(Visit.id.label("visit_id"), Visit.visit_date, Visit.end_date, Visit.facility, Visit.department,
               Visit.provider, Visit.payer, Patient.given_name, Patient.family_name, *_LINE_COLUMNS,
               GoodFaithEstimate.amount.label("estimate"), GoodFaithEstimate.given_on.label("estimate_given_on"))
        .join(Patient, Visit.patient_id == Patient.id)
        .outerjoin(LineItem, LineItem.visit_id == Visit.id)
        .outerjoin(GoodFaithEstimate, GoodFaithEstimate.visit_id == Visit.id)
        .where(Visit.statement_id == statement.id)
        .order_by(Visit.id, LineItem.position, LineItem.id)).all()
    lines = [row for row in rows if row.id is not None]
    payments = db.session.execute(
        select(Payment.id, Payment.amount, Payment.amount_refunded, Payment.status, Payment.method,
               Payment.card_last4, Payment.created_at, Payment.succeeded_at)
        .where(Payment.statement_id == statement.id, Payment.status.in_(SETTLED_STATUSES))
        .order_by(Payment.id)).all()
    # What the billing office took off, and each dispute's state: both are printed.
    adjustments = db.session.execute(
        select(BalanceAdjustment.id, BalanceAdjustment.line_item_id, BalanceAdjustment.amount)
        .where(BalanceAdjustment.statement_id == statement.id).order_by(BalanceAdjustment.id)).all()
    disputes = db.session.execute(
        select(LineDispute.id, LineDispute.line_item_id, LineDispute.reason, LineDispute.outcome,
               LineDispute.adjustment_id, StaffProfile.display_name)
        .join(Question, LineDispute.question_id == Question.id)
        .outerjoin(StaffProfile, StaffProfile.user_id == Question.assigned_staff_id)
        .where(LineDispute.statement_id == statement.id).order_by(LineDispute.id)).all()
    names = service_names(lines, locale)
    # Whether it is due, overdue or paid changes the words printed; the date alone does not.
    summary = StatementSummary(
        statement, Money(sum(line.charge - line.insurance_paid - line.adjustment for line in lines), statement.currency),
        Money(sum(p.amount - p.amount_refunded for p in payments), statement.currency),
        organisation_today(organisation, now), Money(sum(row.amount for row in adjustments), statement.currency))
    facts = {
        "renderer": pdf.renderer_fingerprint(locale),
        "locale": locale,
        "note": note,
        "page": current_app.config["STATEMENT_PDF_PAGE_SIZE"],
        # What a self-pay visit's good faith estimate prints with (the estimates are in "lines").
        "estimate_rules": [current_app.config[name] for name in (
            "GOOD_FAITH_DISPUTE_THRESHOLD_MINOR", "GOOD_FAITH_DISPUTE_DAYS", "GOOD_FAITH_DISPUTE_URL",
            "GOOD_FAITH_DISPUTE_PHONE")],
        "urls": pdf.printed_urls(statement.number),
        "organisation": [organisation.name, organisation.address, organisation.phone, organisation.email,
                         organisation.time_zone],
        "account": [account.number, account.guarantor_name, account.mailing_address],
        "contact": _contact_facts(statement.account_id),
        "statement": [statement.number, _iso(statement.statement_date), _iso(statement.due_date),
                      statement.currency, summary.status],
        "lines": [[row.visit_id, _iso(row.visit_date), _iso(row.end_date), row.facility, row.department,
                   row.provider, row.payer, row.given_name, row.family_name,
                   *(_iso(value) if isinstance(value, date) else value for value in row[9:]),
                   *((names[row.id].name, names[row.id].explanation) if row.id is not None else ())]
                  for row in rows],
        "payments": [[_iso(value) if isinstance(value, datetime) else value for value in payment]
                     for payment in payments],
        "adjustments": [list(row) for row in adjustments],
        # The name of whoever has a dispute is printed beside it: a new assignee is a new version.
        "disputes": [list(row) for row in disputes],
        # The glossary and the dictionary, by the token that changes whenever either does (its appendix
        # and the services' plain names are printed).
        "glossary": content_token(),
    }
    if itemised:  # only then, so that the statements' own versions (and their cached PDFs) stay as they were
        facts["itemised"] = True
    encoded = json.dumps(facts, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:40]


@dataclass(frozen=True)
class PrintedStatement:
    """A statement's PDF: its bytes, its version (the ETag) and whether it was printed just now."""

    data: bytes
    version: str
    locale: str
    printed: bool
    seconds: float  # not money: wall-clock time


def statement_pdf(statement: Statement, language: Language, *, now: datetime | None = None,
                  itemised: bool = False) -> PrintedStatement:
    """The statement's PDF in ``language``: from the cache when this version was printed before.

    ``itemised``: the itemised bill instead (see ``pdf.statement_document``), cached beside the statement.
    Needs a request context whose address is the portal's public one (the PDF links to it).
    """
    started = time.perf_counter()
    # One moment for the version and the document, so that a print at midnight cannot file an overdue
    # statement under the version of a due one.
    now = now or datetime.now(timezone.utc)
    note = fallback_note(language)
    version = content_version(statement, language.locale, note=note, now=now, itemised=itemised)
    # Its own slot, so that keeping one kind of PDF never removes the other.
    slot = f"{language.locale}-itemised" if itemised else language.locale
    data = cache.read(statement.number, slot, version)
    if data is not None:
        return PrintedStatement(data, version, language.locale, False, time.perf_counter() - started)
    document = pdf.statement_document(statement, language.locale, note=note, now=now, itemised=itemised)
    data = pdf.print_pdf(document.html)
    try:
        cache.store(statement.number, slot, version, data)
    except OSError:
        # A full or read-only disk costs the next download a new print, never this one its PDF.
        current_app.logger.exception("statement %s: the printed PDF could not be cached", statement.number)
    return PrintedStatement(data, version, language.locale, True, time.perf_counter() - started)
