import pytest

from portal import create_app
from portal.config import DEVELOPMENT_SECRET_KEY, UnsafeConfiguration
from portal.extensions import db

from .conftest import STRIPE_KEYS

# Everything production asks for (no request counts against a limit, so no Redis needs to answer).
SAFE_PRODUCTION = {"SECRET_KEY": "x" * 40, "MAIL_SERVER": "smtp.example.org", "PUBLIC_URL": "https://billing.example.org",
                   "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", **STRIPE_KEYS}


def test_production_refuses_the_development_secret_key(database_url):
    with pytest.raises(UnsafeConfiguration, match="PORTAL_SECRET_KEY"):
        create_app({"ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url})
    with pytest.raises(UnsafeConfiguration):
        create_app({"ENV": "production", "SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": database_url})


def test_production_marks_cookies_secure(database_url):
    app = create_app({"ENV": "production", **SAFE_PRODUCTION, "SQLALCHEMY_DATABASE_URI": database_url})
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


def test_production_refuses_rate_limits_counted_in_each_process(database_url):
    """Each gunicorn worker would count on its own: four workers, four times the guesses."""
    settings = {**SAFE_PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://"}
    with pytest.raises(UnsafeConfiguration, match="PORTAL_RATELIMIT_STORAGE_URI"):
        create_app({"ENV": "production", **settings, "SQLALCHEMY_DATABASE_URI": database_url})


def test_production_refuses_to_start_without_its_public_https_address(database_url):
    """Reset links would otherwise be built on the request's Host header, which anyone can forge."""
    for address in (None, "http://billing.example.org"):
        with pytest.raises(UnsafeConfiguration, match="PORTAL_PUBLIC_URL"):
            create_app({"ENV": "production", **SAFE_PRODUCTION, "PUBLIC_URL": address,
                        "SQLALCHEMY_DATABASE_URI": database_url})


def test_production_sends_hsts_even_when_the_proxy_does_not_say_https(make_app):
    app = make_app(ENV="production", **SAFE_PRODUCTION)
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_plain_gunicorn_entry_point_builds_the_app_from_the_environment(monkeypatch, database_url):
    """``gunicorn "portal:create_app()"`` calls create_app with no arguments: settings come from PORTAL_*."""
    monkeypatch.setenv("PORTAL_SQLALCHEMY_DATABASE_URI", database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "y" * 40)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == database_url and app.config["SECRET_KEY"] == "y" * 40
    assert app.test_client().get("/healthz").json == {"status": "ok", "database": "ok"}
    with app.app_context():
        db.engine.dispose()
