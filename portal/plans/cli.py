"""``flask plans run``: charge what is due now, by hand (the worker does it every quarter of an hour)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from .tasks import run_plans

plans_cli = AppGroup("plans", help="Payment plans.")


@plans_cli.command("run")
def run_command() -> None:
    """Send due notices, schedule autopay and charge every instalment whose day has come."""
    report = run_plans()
    click.echo(f"{report.notices} notice(s) sent, {report.autopay_scheduled} autopay charge(s) scheduled, "
               f"{len(report.paid)} charge(s) paid, {len(report.refused)} refused, {len(report.broken)} plan(s) "
               f"broken, {len(report.completed)} paid off.")
