"""``flask --app portal import fhir PATH...``, ``import csv PATH...`` and ``import estimates PATH...``.

Each unit (a bundle, one patient's NDJSON resources, a CSV file) is committed on its own, so a bad one is
reported and leaves no rows while the others go in. The exit status is 1 when anything failed.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..billing.models import Organisation
from ..extensions import db
from ..statements import cache
from . import csv_rows, estimates, fhir, services
from .records import BadInput, Skipped, Unit, UnknownCode

logger = logging.getLogger(__name__)
import_cli = AppGroup("import", help="Take in bills from the hospital's billing system (FHIR R4 or CSV), "
                                     "and good faith estimates.")


@dataclass
class Report:
    """What a run did, for the billing office."""

    dry_run: bool
    units: int = 0
    imported: int = 0
    counts: services.Counts = field(default_factory=services.Counts)
    skipped: list[tuple[str, Skipped]] = field(default_factory=list)
    failed: list[BadInput] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)
    codes: dict[tuple[str, str], UnknownCode] = field(default_factory=dict)
    code_lines: Counter = field(default_factory=Counter)

    def lines(self, what: str) -> list[str]:
        c = self.counts
        verb = "Checked" if self.dry_run else "Imported"
        out = [f"{verb} {self.imported} of {self.units} {what}"
               + (" (dry run: nothing was written)." if self.dry_run else ".")]
        would = "would be " if self.dry_run else ""
        out += [
            f"  accounts:   {c.accounts_created} {would}created, {c.accounts_updated} {would}updated",
            f"  patients:   {c.patients_created} {would}created, {c.patients_updated} {would}updated",
            f"  statements: {c.statements_created} {would}created, {c.statements_updated} {would}updated "
            f"({c.statements_emptied} of them left with nothing on them)",
            f"  claims:     {c.claims_created} new, {c.claims_updated} corrected, {c.claims_cancelled} cancelled, "
            f"{c.claims_unchanged} unchanged",
            f"  lines:      {c.lines_created} {would}created, {c.lines_updated} {would}updated, "
            f"{c.lines_removed} {would}removed",
        ]
        if self.skipped:
            out.append(f"Skipped {len(self.skipped)} resources:")
            out += [f"  {file}: {skip.resource}: {skip.reason}" for file, skip in self.skipped]
        if self.ignored:
            listed = ", ".join(f"{n} {kind}" for kind, n in sorted(self.ignored.items(), key=lambda i: (-i[1], i[0])))
            out.append(f"Not billing data, left alone: {listed}.")
        if self.codes:
            out.append(f"{len(self.codes)} codes have no plain-language name in the service dictionary; patients "
                       f"see the billing system's description until one is added (`flask dictionary import`):")
            for key, code in sorted(self.codes.items()):
                lines = self.code_lines[key]
                out.append(f"  {code.code_system} {code.code}: {code.description} "
                           f"({lines} line{'s' if lines != 1 else ''})")
        if self.failed:
            out.append(f"FAILED: {len(self.failed)} {what} not imported (nothing of them was written):")
            out += [f"  {error.file or '-'}: {error.resource or '-'}: {error.reason}" for error in self.failed]
        return out


def _organisation(slug: str | None) -> Organisation:
    query = select(Organisation).order_by(Organisation.id)
    if slug:
        query = query.where(Organisation.slug == slug)
    organisation = db.session.scalar(query.limit(1))
    if organisation is None:
        raise click.ClickException(f"No organisation {slug!r}." if slug else
                                   "No organisation yet: load one first (`flask demo load` for the demo).")
    return organisation


def hospital_facts(organisation: Organisation) -> fhir.Hospital:
    return fhir.Hospital(organisation.name, organisation.currency, organisation.time_zone,
                         tuple(current_app.config["SUPPORTED_LOCALES"]))


def run_import(units: Iterable[Unit | BadInput], organisation: Organisation, *, dry_run: bool,
               on_unit: Callable[[], None] = lambda: None) -> Report:
    """Load each unit in its own transaction and say what happened; never raises for bad input."""
    report = Report(dry_run=dry_run)
    organisation_id = organisation.id
    for unit in units:
        report.units += 1
        on_unit()
        if isinstance(unit, BadInput):
            report.failed.append(unit)
            continue
        organisation = db.session.get(Organisation, organisation_id)
        try:
            counts = services.load_unit(unit, organisation)
        except BadInput as error:
            db.session.rollback()
            error.file = error.file or unit.file
            error.resource = error.resource or unit.label
            report.failed.append(error)
            continue
        except SQLAlchemyError as error:
            db.session.rollback()
            reason = str(getattr(error, "orig", error)).splitlines()[0][:200]
            report.failed.append(BadInput(f"the database refused it: {reason}", unit.label, unit.file))
            continue
        except Exception:  # noqa: BLE001 (a last resort: one odd unit must not stop the others, nor half-write)
            db.session.rollback()
            logger.exception("import: %s in %s failed", unit.label, unit.file)
            report.failed.append(BadInput("an unexpected error, logged for the developers", unit.label, unit.file))
            continue
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
            for number in counts.changed_statements:
                cache.discard(number)
        report.imported += 1
        report.counts.add(counts)
        report.skipped += [(unit.file, skip) for skip in unit.skipped]
        report.ignored.update(unit.ignored)
        for (system, code), lines in services.code_counts([unit]).items():
            report.code_lines[(system, code)] += lines
        for code in services.line_codes([unit]):
            report.codes.setdefault((code.code_system, code.code), code)
    known = {(c.code_system, c.code) for c in services.check_codes(report.codes.values())}
    report.codes = {key: code for key, code in report.codes.items() if key in known}
    return report


def _finish(report: Report, what: str) -> None:
    for line in report.lines(what):
        click.echo(line)
    if report.failed:
        raise SystemExit(1)


def _progress(paths: list[str]) -> Iterator[Callable[[], None]]:
    # A bar on a terminal for long runs; nothing in logs and pipes.
    if len(paths) < 20 or not sys.stderr.isatty():
        yield lambda: None
        return
    with click.progressbar(length=len(paths), label="Importing", file=sys.stderr) as bar:
        yield lambda: bar.update(1)


@import_cli.command("fhir")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True))
@click.option("--dry-run", is_flag=True, help="Read and check everything, write nothing.")
@click.option("--organisation", "slug", default=None, help="The organisation's slug (default: the first).")
def fhir_command(paths: tuple[str, ...], dry_run: bool, slug: str | None) -> None:
    """Import FHIR R4 JSON: Bundles (collection, transaction or batch), folders of them, or NDJSON files.

    Claims become visits on each guarantor's statement for the billing period; importing the same files
    again changes nothing, and a corrected claim updates its statement.
    """
    organisation = _organisation(slug)
    files = fhir.list_files(paths)
    for tick in _progress(files):
        units = fhir.units_from_paths(paths, hospital_facts(organisation))
        report = run_import(units, organisation, dry_run=dry_run, on_unit=tick)
    _finish(report, "bundles" if all(f.endswith(".json") for f in files) else "units")


@import_cli.command("csv")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Read and check everything, write nothing.")
@click.option("--organisation", "slug", default=None, help="The organisation's slug (default: the first).")
def csv_command(paths: tuple[str, ...], dry_run: bool, slug: str | None) -> None:
    """Import line items from CSV files in the portal's layout (see the README); each file all or nothing."""
    organisation = _organisation(slug)
    hospital = hospital_facts(organisation)

    def units() -> Iterator[Unit | BadInput]:
        for path in paths:
            try:
                yield csv_rows.unit_from_csv_file(path, hospital)
            except BadInput as error:
                error.file = error.file or os.path.basename(path)
                yield error

    for tick in _progress(list(paths)):
        report = run_import(units(), organisation, dry_run=dry_run, on_unit=tick)
    _finish(report, "files")


@import_cli.command("estimates")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Read and check everything, write nothing.")
@click.option("--organisation", "slug", default=None, help="The organisation's slug (default: the first).")
def estimates_command(paths: tuple[str, ...], dry_run: bool, slug: str | None) -> None:
    """Import good faith estimates (CSV, one row per visit already imported; see the README); each file all or
    nothing. A self-pay visit's statement shows its estimate beside what it bills."""
    organisation = _organisation(slug)
    failed = 0
    for path in paths:
        file = os.path.basename(path)
        try:
            counts = estimates.load(estimates.rows_from_text(csv_rows.read_text(path), organisation.currency),
                                    organisation.id)
        except BadInput as error:
            db.session.rollback()
            failed += 1
            click.echo(f"FAILED: {file}: {error.resource or '-'}: {error.reason} (nothing of it was written)")
            continue
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        would = "would be " if dry_run else ""
        click.echo(f"{file}: {counts.added} estimates {would}added, {counts.updated} {would}updated, "
                   f"{counts.unchanged} unchanged" + (" (dry run: nothing was written)." if dry_run else "."))
    if failed:
        raise SystemExit(1)


@import_cli.command("settings")
@click.option("--period", type=click.Choice(services.PERIODS), default=None,
              help="Gather imported charges into one statement per guarantor per this period.")
@click.option("--due-days", type=click.IntRange(0, 365), default=None, help="Days from statement date to due date.")
@click.option("--organisation", "slug", default=None, help="The organisation's slug (default: the first).")
def settings_command(period: str | None, due_days: int | None, slug: str | None) -> None:
    """Show, or change, how imported charges become statements (applies to statements made from now on)."""
    organisation = _organisation(slug)
    if period is not None:
        organisation.statement_period = period
    if due_days is not None:
        organisation.payment_due_days = due_days
    db.session.commit()
    unit = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}[organisation.statement_period]
    click.echo(f"{organisation.name}: one statement per guarantor per {unit} of care, "
               f"due {organisation.payment_due_days} days after its date.")
