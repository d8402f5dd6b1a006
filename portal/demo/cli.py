"""``flask --app portal demo load``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from .services import load_demo

demo_cli = AppGroup("demo", help="Demo data for trying the portal.")


@demo_cli.command("load")
def load_command() -> None:
    """Load the demo hospital, patients, statements and staff (safe to run again)."""
    if load_demo():
        db.session.commit()
        click.echo("Demo data loaded. Sign in as patient@example.org / demo-patient-1.")
    else:
        click.echo("Demo data is already loaded; nothing changed.")
