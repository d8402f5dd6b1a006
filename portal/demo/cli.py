"""``flask --app portal demo load``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from ..glossary.cli import fail
from ..glossary.content import ContentError
from ..glossary.services import load_builtin_content
from .services import load_demo

demo_cli = AppGroup("demo", help="Demo data for trying the portal.")


@demo_cli.command("load")
def load_command() -> None:
    """Load the glossary, then the demo hospital, patients, statements and staff (safe to run again)."""
    # The demo's bills are explained with the glossary and the dictionary, so they come first.
    try:
        report = load_builtin_content()
    except ContentError as error:
        fail(error)
    db.session.commit()
    click.echo(f"Glossary loaded: {sum(report.terms.values())} terms, {sum(report.entries.values())} "
               "dictionary entries.")
    if load_demo():
        db.session.commit()
        click.echo("Demo data loaded. Sign in as patient@example.org / demo-patient-1.")
    else:
        click.echo("Demo data is already loaded; nothing changed.")
