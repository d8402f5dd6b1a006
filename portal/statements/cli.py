"""``flask --app portal statements render`` and ``flask --app portal statements clear-cache``."""
from __future__ import annotations

import os
import sys

import click
from flask.cli import AppGroup

from . import batch, cache

statements_cli = AppGroup("statements", help="Printed (PDF) statements.")


@statements_cli.command("render")
@click.argument("numbers", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Print every statement in the database.")
@click.option("--lang", default=None, help="Print in this language (default: each account's own language).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, writable=True),
              help="Folder to write statement-<number>-<language>.pdf files into (created if missing).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core).")
def render_command(numbers: tuple[str, ...], everything: bool, lang: str | None, out_dir: str,
                   jobs: int | None) -> None:
    """Print statements NUMBERS (or --all) as PDFs into --out, on every core.

    Statements whose current version was printed before come from the cache. A statement that fails is
    reported and the run goes on; the exit status is 1 when any failed.
    """
    if everything == bool(numbers):
        raise click.UsageError("Give statement numbers or --all (not both).")
    wanted = batch.all_statement_numbers() if everything else list(numbers)
    jobs = jobs or os.cpu_count() or 1
    with click.progressbar(length=len(wanted), label="Printing statements", file=sys.stderr,
                           show_pos=True) as bar:
        summary = batch.run(wanted, lang=lang, out_dir=out_dir, jobs=jobs, on_outcome=lambda _: bar.update(1))
    click.echo(f"{summary.count} statements in {summary.seconds:.1f} s ({summary.per_second:.1f} per second, "
               f"{jobs} {'process' if jobs == 1 else 'processes'}): {summary.printed} printed, "
               f"{summary.from_cache} from the cache, {len(summary.failures)} failed.")
    click.echo(f"Peak memory of a worker: {summary.peak_memory_kb / 1024:.0f} MB.")
    for failure in summary.failures:
        click.echo(f"FAILED {failure.number}: {failure.error}", err=True)
    if summary.failures:
        sys.exit(1)


@statements_cli.command("clear-cache")
def clear_cache_command() -> None:
    """Remove every printed statement kept in the cache (they are printed again when next needed)."""
    click.echo(f"Removed {cache.clear()} cached statement PDFs.")
