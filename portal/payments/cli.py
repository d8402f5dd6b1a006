"""``flask --app portal payments reconcile`` and ``flask --app portal payments export``."""
from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from ..extensions import db
from ..imports.payment_reconciliation import payment_reconciliation_bundle, to_json
from ..site import current_organisation, organisation_time_zone
from . import services
from . import stripe_gateway as gateway
from .receipts import queue_receipts

payments_cli = AppGroup("payments", help="Card payments: repair missed Stripe webhooks, export for posting.")

EXPORT_COLUMNS = ("type", "statement", "account", "amount", "currency", "amount_minor", "posted_at", "stripe_id",
                  "payment_reference")


def _hospital_day(value: datetime | None, default_days_ago: int) -> datetime:
    zone = ZoneInfo(organisation_time_zone())
    if value is None:
        day = datetime.now(zone).date() - timedelta(days=default_days_ago)
    else:
        day = value.date()
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)


@payments_cli.command("reconcile")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Check PaymentIntents created on or after this day (the hospital's calendar); "
                   "default: the last 3 days.")
def reconcile_command(since: datetime | None) -> None:
    """Post every succeeded Stripe payment that a lost webhook left unposted, and say what changed.

    Safe to run again: a payment already posted is left as it is. Receipts not yet sent go out too.
    """
    start = _hospital_day(since, default_days_ago=3)
    try:
        report = services.reconcile(start)
        db.session.commit()
    except gateway.GatewayError as error:
        db.session.rollback()
        click.echo(f"Stripe could not be reached ({error}); nothing changed. Try again later.", err=True)
        raise SystemExit(1) from None
    click.echo(f"Checked {report.checked} portal PaymentIntents at Stripe created since "
               f"{start.astimezone(ZoneInfo(organisation_time_zone())).date().isoformat()}.")
    for payment in report.posted:
        click.echo(f"Posted {payment.received} on statement {payment.statement.number} "
                   f"(PaymentIntent {payment.stripe_payment_intent_id}, payment {payment.public_id}).")
    for line in report.unknown:
        click.echo(f"Needs review: {line}")
    if not report.posted:
        click.echo("Nothing to post: every succeeded payment was already posted.")
    queued = queue_receipts(services.unsent_receipts())
    if queued:
        click.echo(f"Queued {queued} receipts that had not gone out.")


@payments_cli.command("export")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="The day to export, on the hospital's calendar (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "fhir"]), default="csv", show_default=True,
              help="csv or json rows, or fhir: a FHIR R4 Bundle of PaymentReconciliation resources.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write to this file instead of standard output.")
def export_command(day: datetime, fmt: str, output) -> None:  # noqa: ANN001 (a click file)
    """Write the day's posted payments, refunds and billing-office adjustments for the hospital's billing system
    to post.

    Amounts are exact decimals in the currency's major unit (refunds negative; an adjustment is the amount taken
    off the statement), plus the same amount in minor units; times are ISO 8601 in the hospital's time zone.
    ``--format fhir`` writes the same rows as a FHIR R4 collection Bundle, one PaymentReconciliation per row.
    """
    rows = services.export_rows(day.date(), organisation_time_zone())
    records = [{"type": row.kind, "statement": row.statement, "account": row.account,
                "amount": str(row.amount.to_decimal()), "currency": row.amount.currency,
                "amount_minor": row.amount.minor, "posted_at": row.at.isoformat(timespec="seconds"),
                "stripe_id": row.stripe_id, "payment_reference": row.payment_reference} for row in rows]
    if fmt == "fhir":
        organisation = current_organisation()
        bundle = payment_reconciliation_bundle(rows, day=day.date(), time_zone=organisation_time_zone(),
                                               organisation_name=organisation.name if organisation else None,
                                               organisation_slug=organisation.slug if organisation else None)
        output.write(to_json(bundle, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "json":
        json.dump(records, output, indent=2)
        output.write("\n")
    else:
        writer = csv.DictWriter(output, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    if output is not sys.stdout:
        click.echo(f"Exported {len(records)} rows.", err=True)
