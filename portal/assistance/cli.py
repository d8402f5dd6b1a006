"""``flask --app portal assistance holds``: the accounts whose collection is on hold, for the billing system."""
from __future__ import annotations

import csv
import json
import sys

import click
from flask.cli import AppGroup

from ..billing.models import as_utc
from . import services

assistance_cli = AppGroup("assistance", help="Financial assistance: the accounts on hold while applications are decided.")

COLUMNS = ("account", "guarantor", "statement", "applied_at", "application")


@assistance_cli.command("holds")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def holds_command(fmt: str) -> None:
    """List every account with a financial assistance application still to decide: its collection is on hold
    (no collection agency, no credit report) until the billing office decides. Times are UTC."""
    rows = [{"account": application.account.number, "guarantor": application.account.guarantor_name,
             "statement": application.statement.number,
             "applied_at": as_utc(application.created_at).isoformat(timespec="seconds"),
             "application": application.public_id} for application in services.accounts_on_hold()]
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
