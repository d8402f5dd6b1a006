"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from portal import create_app
from portal.extensions import db

from .conftest import app_config


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def test_db_upgrade_command_on_an_empty_sqlite_database(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/fresh.sqlite3"))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"organisations", "accounts", "patients", "users", "user_accounts", "statements", "visits",
            "line_items", "payments", "stripe_events", "audit_events", "staff_profiles"} <= tables
