"""``flask --app portal questions ...``: the worker's routing job, for running by hand or from cron."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from .tasks import reroute

questions_cli = AppGroup("questions", help="Billing questions and who answers them.")


@questions_cli.command("reroute")
def reroute_command() -> None:
    """Move open questions of staff now away or inactive, and assign those waiting for a person."""
    moved, assigned = reroute()
    click.echo(f"Moved {moved} question(s) to colleagues; assigned {assigned} that were waiting for a person.")
