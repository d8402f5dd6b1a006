"""``flask --app portal glossary load`` and ``flask --app portal dictionary import|export``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from ..extensions import db
from . import content, services

glossary_cli = AppGroup("glossary", help="The explanation glossary and the built-in service dictionary.")
dictionary_cli = AppGroup("dictionary", help="The billing office's own plain-language service names.")


def fail(error: content.ContentError) -> None:
    for problem in error.problems[:content.MAX_REPORTED]:
        click.echo(str(problem), err=True)
    if len(error.problems) > content.MAX_REPORTED:
        click.echo(f"... and {len(error.problems) - content.MAX_REPORTED} more problems", err=True)
    click.echo("Nothing was loaded; the database is unchanged.", err=True)
    raise SystemExit(1)


@glossary_cli.command("load")
@click.option("--from", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=content.CONTENT_DIR, help="Read the content files from this folder instead (to try a "
                                                "translation before adding it to the portal).")
def load_command(directory: Path) -> None:
    """Load the glossary and the built-in dictionary from the files shipped with the portal.

    Every ``glossary.<locale>.toml`` and ``dictionary.<locale>.csv`` is checked first; if any has a
    problem, each one is reported with its file and line and nothing is loaded.
    """
    try:
        report = services.load_builtin_content(directory)
    except content.ContentError as error:
        fail(error)
    db.session.commit()
    languages = ", ".join(sorted(report.terms))
    click.echo(f"Loaded {sum(report.terms.values())} glossary terms ({languages}) and "
               f"{sum(report.entries.values())} dictionary entries.")


@dictionary_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--locale", default=content.SOURCE_LOCALE, show_default=True, help="Language of the file.")
def import_command(file, locale: str) -> None:  # noqa: ANN001 (a click file)
    """Make FILE (CSV: code_system,code,name,explanation) the office's own dictionary for LOCALE.

    Rows that repeat the built-in wording are not stored; own entries missing from FILE are removed.
    A file with any problem is rejected whole.
    """
    try:
        locale = content.check_locale(locale, "--locale")
        entries = content.parse_dictionary(file.read(), file.name)
        if not entries:
            # Importing nothing would remove every own entry: too easy to do by mistake.
            raise content.ContentError([content.Problem(file.name, None, "no entries below the header")])
    except content.ContentError as error:
        fail(error)
    report = services.import_dictionary(entries, locale)
    db.session.commit()
    click.echo(f"Read {report.rows} rows from {file.name}: {report.same_as_builtin} same as the built-in "
               f"dictionary; own entries: {report.added} added, {report.changed} changed, {report.kept} unchanged, "
               f"{report.removed} removed. The office now has {report.own_entries} own entries in {locale}.")


@dictionary_cli.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True), default="-")
@click.option("--locale", default=content.SOURCE_LOCALE, show_default=True)
@click.option("--own", is_flag=True, help="Only the office's own entries, not the built-in ones.")
def export_command(file, locale: str, own: bool) -> None:  # noqa: ANN001 (a click file)
    """Write the dictionary patients see in LOCALE to FILE (default: standard output) as CSV."""
    try:
        locale = content.check_locale(locale, "--locale")
    except content.ContentError as error:
        fail(error)
    count = content.write_dictionary(services.dictionary_entries(locale, own_only=own), file)
    if file is not sys.stdout and getattr(file, "name", "-") != "-":
        click.echo(f"Wrote {count} entries to {file.name}.", err=True)
