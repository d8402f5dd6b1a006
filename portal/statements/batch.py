"""Statement runs: print many statements to a folder on every core, one failure never stopping the rest.

Each worker process builds its own app (WeasyPrint and database connections are not shared between
processes) and prints through the same cache as downloads, so a statement printed for the post is not
printed again when the patient downloads it, and the other way round.
"""
from __future__ import annotations

import os
import resource
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import select

from ..billing.models import Statement
from ..extensions import db
from ..urls import DEVELOPMENT_URL
from . import services

# The address printed on statements (quick-pay QR codes, the portal's address) when PUBLIC_URL is unset.
DEFAULT_PUBLIC_URL = DEVELOPMENT_URL


@dataclass(frozen=True)
class Outcome:
    """One statement of a run: the file written, or why not."""

    number: str
    path: str | None = None
    error: str | None = None
    printed: bool = False
    seconds: float = 0.0  # not money: wall-clock time
    peak_memory_kb: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunSummary:
    count: int = 0
    printed: int = 0
    from_cache: int = 0
    seconds: float = 0.0  # not money: wall-clock time
    peak_memory_kb: int = 0
    failures: list[Outcome] = field(default_factory=list)

    @property
    def per_second(self) -> float:  # not money: a rate
        return self.count / self.seconds if self.seconds else 0.0

    def add(self, outcome: Outcome) -> None:
        self.count += 1
        self.peak_memory_kb = max(self.peak_memory_kb, outcome.peak_memory_kb)
        if not outcome.ok:
            self.failures.append(outcome)
        elif outcome.printed:
            self.printed += 1
        else:
            self.from_cache += 1


def all_statement_numbers() -> list[str]:
    return list(db.session.scalars(select(Statement.number).order_by(Statement.number)))


def _peak_memory_kb() -> int:
    # ru_maxrss is in kilobytes on Linux: the most this process has held at once.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def print_one(number: str, lang: str | None, out_dir: str) -> Outcome:
    """Print statement ``number`` into ``out_dir``, in ``lang`` or else the account's own language."""
    started = time.perf_counter()
    base_url = current_app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL
    try:
        with current_app.test_request_context(base_url=base_url):
            statement = db.session.scalar(select(Statement).where(Statement.number == number))
            if statement is None:
                return Outcome(number, error="no such statement", peak_memory_kb=_peak_memory_kb())
            language = services.print_language(statement, lang, statement.account.preferred_locale)
            printed = services.statement_pdf(statement, language)
            target = os.path.join(out_dir, f"statement-{number}-{printed.locale}.pdf")
            with open(target, "wb") as out:
                out.write(printed.data)
            return Outcome(number, path=target, printed=printed.printed, seconds=time.perf_counter() - started,
                           peak_memory_kb=_peak_memory_kb())
    except Exception as error:  # noqa: BLE001 (one statement's failure is reported; the run goes on)
        current_app.logger.warning("statement %s could not be printed:\n%s", number, traceback.format_exc())
        return Outcome(number, error=f"{type(error).__name__}: {error}"[:500], seconds=time.perf_counter() - started,
                       peak_memory_kb=_peak_memory_kb())
    finally:
        # Ends the read transaction; the session stays, with whatever the caller has loaded in it.
        db.session.rollback()


# --- Worker processes ---------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(config: dict[str, Any]) -> None:
    from .. import create_app

    app = create_app(config)
    context = app.app_context()
    context.push()
    _worker["app"], _worker["context"] = app, context


def _print_in_worker(job: tuple[str, str | None, str]) -> Outcome:
    return print_one(*job)


def _portable_config(app: Flask) -> dict[str, Any]:
    """The app's settings for the worker processes, which build their own app from them."""
    import pickle

    config, dropped = {}, []
    for key, value in app.config.items():
        if key.isupper():
            try:
                pickle.dumps(value)
            except Exception:  # noqa: BLE001 (any value pickle refuses)
                dropped.append(key)
                continue
            config[key] = value
    if dropped:
        # A worker without one of these runs on its default, which for the database could be another one.
        raise click.UsageError("these settings cannot be passed to worker processes: " + ", ".join(sorted(dropped))
                               + "; run with --jobs 1")
    return config


def run(numbers: Iterable[str], *, lang: str | None, out_dir: str, jobs: int,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None) -> RunSummary:
    """Print ``numbers`` into ``out_dir`` with ``jobs`` processes (1: in this process)."""
    numbers = list(dict.fromkeys(numbers))
    os.makedirs(out_dir, exist_ok=True)
    summary = RunSummary()
    started = time.perf_counter()
    for outcome in _outcomes(numbers, lang, out_dir, jobs):
        summary.add(outcome)
        on_outcome(outcome)
    summary.seconds = time.perf_counter() - started
    return summary


def _outcomes(numbers: list[str], lang: str | None, out_dir: str, jobs: int) -> Iterator[Outcome]:
    if jobs <= 1 or len(numbers) <= 1:
        for number in numbers:
            yield print_one(number, lang, out_dir)
        return
    jobs = min(jobs, len(numbers))
    # Small chunks keep every core busy to the end of the run and the progress bar moving.
    chunk = max(1, min(8, len(numbers) // (jobs * 8)))
    done: set[str] = set()
    # "spawn": a fresh interpreter per worker, never a fork of this process's database connections.
    # A fresh worker now and then returns the memory WeasyPrint and the fonts gather over a long run.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_start_worker,
                             initargs=(_portable_config(current_app),), max_tasks_per_child=50) as pool:
        try:
            for outcome in pool.map(_print_in_worker, [(n, lang, out_dir) for n in numbers], chunksize=chunk):
                done.add(outcome.number)
                yield outcome
        except BrokenProcessPool as error:
            for number in numbers:
                if number not in done:
                    yield Outcome(number, error=f"the worker printing it stopped: {error}")
