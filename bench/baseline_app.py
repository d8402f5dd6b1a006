"""The load benchmark's baseline: a minimal Flask app that shows a statement, none of the portal's code.

``GET /statements/<number>`` reads the same rows as the portal's statement page (the statement and its account,
its visits with their patients, their lines) from the same PostgreSQL database with plain SQL, and renders them
with a plain Jinja template: no sign-in, no access check, no audit record, no translations, no glossary. What the
portal does on top of this is what the ratio of the two throughputs measures.

``BENCH_BASELINE_PAD`` characters of filler text are added to every page so that it weighs about what the
portal's page weighs (``bench/load.py`` measures both and sets it). Served by gunicorn as
``baseline_app:create_app()`` from bench/; the database is ``PORTAL_BENCH_DATABASE_URL``.
"""
from __future__ import annotations

import os

from flask import Flask, abort
from sqlalchemy import create_engine, text

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"

STATEMENT = text("""
    SELECT s.id, s.number, s.statement_date, s.due_date, s.currency, a.number AS account_number,
           a.guarantor_name, a.mailing_address
    FROM statements s JOIN accounts a ON a.id = s.account_id WHERE s.number = :number""")
LINES = text("""
    SELECT v.id AS visit_id, v.visit_date, v.facility, v.department, v.provider, v.payer, p.given_name,
           p.family_name, l.service_date, l.code_system, l.code, l.description, l.quantity, l.charge, l.allowed,
           l.insurance_paid, l.adjustment, l.deductible, l.copay, l.coinsurance, l.not_covered
    FROM visits v JOIN patients p ON p.id = v.patient_id LEFT JOIN line_items l ON l.visit_id = v.id
    WHERE v.statement_id = :statement_id ORDER BY v.visit_date, v.id, l.position, l.id""")

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statement {{ s.number }}</title><link rel="stylesheet" href="/static/site.css"></head>
<body><header><a href="/">Riverside Community Hospital</a><nav><a href="/statements">Your bills</a>
<a href="/glossary">Billing words</a></nav></header><main>
<h1>Statement {{ s.number }}</h1>
<p>Account {{ s.account_number }}, {{ s.guarantor_name }}. Statement date {{ s.statement_date }}, due
{{ s.due_date }}.</p>
<p class="due">You owe {{ money(total_owed) }} by {{ s.due_date }}.</p>
{% for visit in visits %}
<section><h2>{{ visit.department }}, {{ visit.visit_date }}</h2>
<p>{{ visit.facility }}, {{ visit.provider }}, {{ visit.patient }}, {{ visit.payer or "No insurance" }}</p>
<table><thead><tr><th>Service</th><th>Date</th><th>Qty</th><th>Charges</th><th>Allowed</th><th>Insurance paid</th>
<th>Adjustments</th><th>You owe</th></tr></thead><tbody>
{% for line in visit.lines %}
<tr><td>{{ line.description }} <small>{{ line.code_system|upper }} {{ line.code }}</small></td>
<td>{{ line.service_date }}</td><td>{{ line.quantity }}</td><td>{{ money(line.charge) }}</td>
<td>{{ money(line.allowed or 0) }}</td><td>{{ money(line.insurance_paid) }}</td><td>{{ money(line.adjustment) }}</td>
<td>{{ money(line.owed) }}</td></tr>
<tr><td colspan="8"><details><summary>Why do I owe this?</summary><p>The hospital charged
{{ money(line.charge) }}.{% if line.allowed is not none %} Your insurance agreed to a price of {{ money(line.allowed) }}
and paid {{ money(line.insurance_paid) }}. Deductible {{ money(line.deductible) }}, copay {{ money(line.copay) }},
coinsurance {{ money(line.coinsurance) }}, not covered {{ money(line.not_covered) }}.{% else %} You have no
insurance for this visit; the hospital took {{ money(line.adjustment) }} off.{% endif %} You owe
{{ money(line.owed) }}.</p></details></td></tr>
{% endfor %}</tbody></table></section>
{% endfor %}
<p class="filler">{{ pad }}</p>
</main></body></html>"""


def money(minor: int) -> str:
    """Whole cents as dollars, without floats ("$1,234.50")."""
    dollars, cents = divmod(minor, 100)
    return f"${dollars:,}.{cents:02d}"


def _visits(rows) -> list[dict]:  # noqa: ANN001 (SQLAlchemy rows)
    visits: dict[int, dict] = {}
    for row in rows:
        visit = visits.setdefault(row.visit_id, {
            "visit_date": row.visit_date, "facility": row.facility, "department": row.department,
            "provider": row.provider, "payer": row.payer, "patient": f"{row.given_name} {row.family_name}",
            "lines": []})
        if row.code is not None:
            line = row._asdict()
            line["owed"] = row.charge - row.insurance_paid - row.adjustment
            visit["lines"].append(line)
    return list(visits.values())


def create_app(database_url: str | None = None, pad: int | None = None) -> Flask:
    app = Flask(__name__)
    engine = create_engine(database_url or os.environ.get("PORTAL_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
                           pool_pre_ping=True)
    filler = "Lorem ipsum dolor sit amet. " * ((pad if pad is not None else int(os.environ.get(
        "BENCH_BASELINE_PAD", "0"))) // 28)
    # Compiled once, as Flask does with template files.
    template = app.jinja_env.from_string(TEMPLATE)

    @app.route("/statements/<number>")
    def statement(number: str):
        with engine.connect() as connection:
            found = connection.execute(STATEMENT, {"number": number}).first()
            if found is None:
                abort(404)
            visits = _visits(connection.execute(LINES, {"statement_id": found.id}))
        total = sum(line["owed"] for visit in visits for line in visit["lines"])
        return template.render(s=found, visits=visits, total_owed=total, money=money, pad=filler)

    return app
