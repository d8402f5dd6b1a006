"""Benchmark the FHIR importer: Synthea patient bundles a second, from the file's bytes to the commit.

Builds a fresh database (a temporary SQLite file, or PostgreSQL when PORTAL_BENCH_DATABASE_URL is set: its
public schema is rebuilt) with the shipped glossary and one organisation, then imports the six Synthea sample
bundles (tests/data/fhir/synthea) round after round, ``BENCH_FHIR_ROUNDS`` rounds (default 50, 300 bundles),
the way ``flask import fhir`` does (``units_from_paths`` and ``run_import``: each bundle read, parsed, turned
into records, written and committed on its own). Every round rewrites each UUID in the bundles' text (ids,
fullUrls, references, identifiers) before the clock starts, so that each round brings new patients and claims
and the JSON is still parsed in the timed part. Prints:

- bundles a second and MB a second on one core, p50/p95 ms a bundle, and p50 ms of the largest bundle
  (0.92 MB) with the bundles a second that makes;
- the same bundles imported again: every claim unchanged, nothing written;
- where the time goes: JSON parsing and building the records (``fhir.unit_from_document``, no database), and
  what is left for writing them (``services.load_unit`` and the commit);
- the same by bundle: size, claims and lines, and each step's p50 (a bundle's time follows its claims).

MB here are 10^6 bytes. Asserts nothing. Usage: ``make bench`` or ``.venv/bin/python bench/import_fhir.py
[ROUNDS] [--profile]`` (``--profile`` adds cProfile's top functions of the first import pass).
"""
from __future__ import annotations

import cProfile
import glob
import io
import json
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from decimal import Decimal

from common import ROOT, fresh_app, ms, percentile  # bench/ is on the path

from sqlalchemy import func, select  # noqa: E402

from portal.billing.models import LineItem, Organisation, Patient  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.glossary.services import load_builtin_content  # noqa: E402
from portal.imports import fhir  # noqa: E402
from portal.imports.cli import Report, hospital_facts, run_import  # noqa: E402

SAMPLES = os.path.join(ROOT, "tests", "data", "fhir", "synthea")
ROUNDS = int(os.environ.get("BENCH_FHIR_ROUNDS", "50"))
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
MB = 1_000_000






def build_app(workdir: str):
    app = fresh_app(workdir, RATELIMIT_ENABLED=False, STATEMENT_PDF_CACHE_DIR=os.path.join(workdir, "cache"))
    with app.app_context():
        load_builtin_content()
        db.session.add(Organisation(slug="bench", name="Bench General Hospital", address="1 Bench Way",
                                    phone="+1 555-0100", currency="USD", time_zone="America/Chicago",
                                    default_locale="en"))
        db.session.commit()
    return app


def rewritten(data: bytes, round_number: int) -> bytes:
    """The bundle with every UUID made this round's own (same length, so the same bytes to parse)."""
    prefix = f"b{round_number:07x}".encode()
    return UUID.sub(lambda match: prefix + match[0][8:], data)


def write_round(folder: str, bundles: dict[str, bytes], round_number: int) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, data in bundles.items():
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(rewritten(data, round_number))
        paths.append(path)
    return paths


def import_round(paths: list[str], organisation: Organisation) -> tuple[Report, list[float]]:
    """``flask import fhir`` on these files, with each bundle's time: from reading its file to its commit."""
    marks = []
    hospital = hospital_facts(organisation)

    def units():  # noqa: ANN202
        for path in paths:
            marks.append(time.perf_counter())
            yield from fhir.units_from_paths([path], hospital)

    report = run_import(units(), organisation, dry_run=False)
    marks.append(time.perf_counter())  # the last bundle's time holds the run's one dictionary check
    return report, [later - earlier for earlier, later in zip(marks, marks[1:])]


def import_pass(app, workdir: str, bundles: dict[str, bytes], rounds: int,  # noqa: ANN001
                profile: cProfile.Profile | None = None) -> tuple[Report, list[tuple[str, float]], float]:
    """Every round's bundles; the files are written before each round's clock starts."""
    timings, reports, total = [], [], 0.0
    with app.app_context():
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == "bench"))
        for round_number in range(rounds):
            paths = write_round(os.path.join(workdir, f"round-{round_number}"), bundles, round_number)
            if profile:
                profile.enable()
            started = time.perf_counter()
            report, seconds = import_round(paths, organisation)
            total += time.perf_counter() - started
            if profile:
                profile.disable()
            reports.append(report)
            timings += list(zip(bundles, seconds))
            for path in paths:
                os.remove(path)
    combined = reports[0]
    for report in reports[1:]:
        combined.units += report.units
        combined.imported += report.imported
        combined.counts.add(report.counts)
        combined.failed += report.failed
    return combined, timings, total


def print_pass(label: str, timings: list[tuple[str, float]], total: float, sizes: dict[str, int]) -> None:
    seconds = [s for _, s in timings]
    volume = sum(sizes[name] for name, _ in timings) / MB
    largest = max(sizes, key=sizes.get)
    largest_times = [s for name, s in timings if name == largest]
    print(f"  {label}: {len(timings)} bundles, {volume:.0f} MB in {total:.1f} s: "
          f"{len(timings) / total:.1f} bundles/s, {volume / total:.2f} MB/s")
    print(f"    a bundle: p50 {ms(statistics.median(seconds))}, p95 {ms(percentile(seconds, 0.95))}; the largest "
          f"({sizes[largest] / MB:.2f} MB): p50 {ms(statistics.median(largest_times))}, "
          f"{1 / statistics.median(largest_times):.1f} bundles/s")


def main(rounds: int, profiling: bool) -> None:
    paths = sorted(glob.glob(os.path.join(SAMPLES, "*.json")))
    bundles = {}
    for path in paths:
        with open(path, "rb") as handle:
            bundles[os.path.basename(path)] = handle.read()
    sizes = {name: len(data) for name, data in bundles.items()}
    entries = {name: len(json.loads(data)["entry"]) for name, data in bundles.items()}
    median_size = statistics.median(sizes.values()) / MB
    workdir = tempfile.mkdtemp(prefix="portal-bench-fhir-")
    app = build_app(workdir)
    with app.app_context():
        database = db.engine.dialect.name
        hospital = hospital_facts(db.session.scalar(select(Organisation)))
    print(f"FHIR import: {len(bundles)} Synthea bundles ({min(sizes.values()) / MB:.2f} to "
          f"{max(sizes.values()) / MB:.2f} MB, median {median_size:.2f} MB) x {rounds} rounds, {database}, one core")

    profile = cProfile.Profile() if profiling else None
    report, first, total = import_pass(app, workdir, bundles, rounds, profile)
    print_pass("new patients", first, total, sizes)
    mb_per_second = sum(sizes[name] for name, _ in first) / MB / total
    print(f"    at {mb_per_second:.2f} MB/s: {mb_per_second / 0.9:.1f} bundles/s of 0.9 MB, "
          f"{mb_per_second / median_size:.1f} of the median {median_size:.2f} MB")
    c = report.counts
    with app.app_context():
        patients = db.session.scalar(select(func.count()).select_from(Patient))
        lines = db.session.scalar(select(func.count()).select_from(LineItem))
    print(f"    imported {report.imported} of {report.units} ({len(report.failed)} failed): {c.patients_created} "
          f"patients, {c.claims_created} claims, {c.lines_created} lines, {c.statements_created} statements; "
          f"in the database {patients} patients, {lines} lines")

    again, timings, total = import_pass(app, workdir, bundles, rounds)
    print_pass("the same bundles again", timings, total, sizes)
    c = again.counts
    written = (c.accounts_created + c.accounts_updated + c.patients_created + c.patients_updated
               + c.claims_created + c.claims_updated + c.claims_cancelled + c.lines_created)
    print(f"    {c.claims_unchanged} claims unchanged, {written} rows created or updated, {len(again.failed)} failed")

    parse, build, units = {name: [] for name in bundles}, {name: [] for name in bundles}, {}
    for attempt in range(5):
        for name, data in bundles.items():
            data = rewritten(data, rounds + attempt)
            started = time.perf_counter()
            document = json.loads(data, parse_float=Decimal)  # as fhir.units_from_paths reads a file
            parsed = time.perf_counter()
            units[name] = fhir.unit_from_document(document, name, hospital)
            parse[name].append(parsed - started)
            build[name].append(time.perf_counter() - parsed)
    parse = {name: statistics.median(values) for name, values in parse.items()}
    build = {name: statistics.median(values) for name, values in build.items()}
    volume = sum(sizes.values()) / MB
    print("  without the database (p50 of 5 runs a bundle):")
    print(f"    JSON (json.loads, Decimal amounts):  {sum(parse.values()) / len(parse) * 1000:4.1f} ms a bundle on "
          f"average, {volume / sum(parse.values()):5.1f} MB/s")
    print(f"    records (fhir.unit_from_document):   {sum(build.values()) / len(build) * 1000:4.1f} ms a bundle on "
          f"average, {volume / sum(build.values()):5.1f} MB/s")
    reading = (sum(parse.values()) + sum(build.values())) / len(bundles)
    importing = sum(s for _, s in first) / len(first)
    print(f"    both: {1 / reading:.0f} bundles/s; of the {ms(importing)} an import of new patients takes on "
          f"average, JSON {sum(parse.values()) / len(parse) / importing:.0%}, records "
          f"{sum(build.values()) / len(build) / importing:.0%}, writing (services.load_unit "
          f"and the commit) {1 - reading / importing:.0%}")

    print("  by bundle (p50 ms; a bundle's time follows its claims more than its size):")
    print(f"    {'bundle':<18} {'MB':>5} {'entries':>7} {'claims':>6} {'lines':>5} {'JSON':>6} {'records':>7} "
          f"{'import':>7} {'again':>6}")
    for name in bundles:
        unit = units[name]
        print(f"    {name.split('_')[0] + ' ' + name.split('_')[1]:<18} {sizes[name] / MB:5.2f} "
              f"{entries[name]:7d} {len(unit.claims):6d} {sum(len(c.lines) for c in unit.claims):5d} "
              f"{parse[name] * 1000:6.1f} {build[name] * 1000:7.1f} "
              f"{statistics.median(s for n, s in first if n == name) * 1000:7.1f} "
              f"{statistics.median(s for n, s in timings if n == name) * 1000:6.1f}")

    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print("  cProfile of the first pass, by own time:")
        print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--profile"]
    main(int(arguments[0]) if arguments else ROUNDS, "--profile" in sys.argv[1:])
