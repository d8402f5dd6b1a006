"""What every benchmark needs: a fresh migrated database, percentiles, milliseconds and a free port."""
from __future__ import annotations

import os
import socket
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import flask_migrate  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402

SECRET_KEY = "bench-secret-key-long-enough-0123456789"


def database_url(workdir: str) -> str:
    """PostgreSQL when PORTAL_BENCH_DATABASE_URL is set, else a SQLite file in ``workdir``."""
    return os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite3"


def fresh_app(workdir: str, **settings) -> Flask:
    """An app on an empty, migrated database: a PostgreSQL database's public schema is dropped and made
    again (point PORTAL_BENCH_DATABASE_URL at a database kept for benchmarks and tests)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(workdir), "SECRET_KEY": SECRET_KEY,
                      "PASSWORD_HASH_PROFILE": "CHEAPEST", **settings})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        flask_migrate.upgrade()
    return app


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
