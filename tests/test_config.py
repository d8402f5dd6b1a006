import pytest

from portal import create_app
from portal.config import DEVELOPMENT_SECRET_KEY, UnsafeConfiguration

from .conftest import STRIPE_KEYS


def test_production_refuses_the_development_secret_key(database_url):
    with pytest.raises(UnsafeConfiguration, match="PORTAL_SECRET_KEY"):
        create_app({"ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url})
    with pytest.raises(UnsafeConfiguration):
        create_app({"ENV": "production", "SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": database_url})


def test_production_marks_cookies_secure(database_url):
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": database_url,
                      "MAIL_SERVER": "smtp.example.org", **STRIPE_KEYS})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_works_over_plain_http(app):
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SECRET_KEY"] != DEVELOPMENT_SECRET_KEY  # the tests set their own


def test_settings_come_from_portal_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("PORTAL_MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("PORTAL_MAIL_PORT", "587")
    monkeypatch.setenv("PORTAL_MAIL_USE_TLS", "true")
    monkeypatch.setenv("PORTAL_QUICK_PAY_MINUTES", "15")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite3")
    assert app.config["MAIL_SERVER"] == "smtp.example.org"
    assert app.config["MAIL_PORT"] == 587
    assert app.config["MAIL_USE_TLS"] is True
    assert app.config["QUICK_PAY_MINUTES"] == 15


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("PORTAL_SQLALCHEMY_DATABASE_URI", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/portal.sqlite3"


def test_production_refuses_to_start_without_stripe_keys(database_url):
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": database_url})
    for setting in ("PORTAL_STRIPE_SECRET_KEY", "PORTAL_STRIPE_PUBLISHABLE_KEY", "PORTAL_STRIPE_WEBHOOK_SECRET"):
        assert setting in str(refused.value)


def test_production_refuses_to_start_without_a_mail_server(database_url):
    """Without one, emails would only be written to the log (reset links included) and counted as sent."""
    with pytest.raises(UnsafeConfiguration, match="PORTAL_MAIL_SERVER must be set"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": database_url,
                    **STRIPE_KEYS})
