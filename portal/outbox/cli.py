"""``flask --app portal mail ...``: what the outbox holds, and sending undelivered mail again."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from . import services

mail_cli = AppGroup("mail", help="The outbox: emails waiting, sent and undelivered.")


@mail_cli.command("status")
def status_command() -> None:
    """How many emails are waiting, being sent, sent and undelivered; the undelivered ones listed."""
    for status, count in services.counts().items():
        click.echo(f"{status:>8}: {count}")
    for mail in services.failed_mail():
        click.echo(f"undelivered #{mail.id} {mail.kind} to {mail.recipient} after {mail.attempts} attempt(s): "
                   f"{mail.last_error}")


@mail_cli.command("retry")
def retry_command() -> None:
    """Queue every undelivered email again, from the first attempt (the worker sends them)."""
    failed = services.failed_mail(limit=100_000)
    for mail in failed:
        services.send_again(mail)
    db.session.commit()
    click.echo(f"Queued {len(failed)} undelivered email(s) again.")
