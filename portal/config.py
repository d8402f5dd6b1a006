"""Configuration: safe defaults, ``PORTAL_*`` environment overrides, production checks."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

# The development key is public (it is in this file); production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "SECRET_KEY": DEVELOPMENT_SECRET_KEY,
    # None means "a SQLite file in the instance folder"; resolved in load_config.
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Mail: with no server configured, messages are written to the log.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_DEFAULT_SENDER": "billing@localhost",
    # A send that fails is tried again after this many seconds, then twice as long each time (at most six
    # hours apart), this many times in all (over about 8.5 hours), before it is listed as undelivered.
    "MAIL_RETRY_FIRST_DELAY": 60,
    "MAIL_MAX_ATTEMPTS": 10,
    # The background queue (huey): a SQLite file in the instance folder unless a Redis URL is given (one
    # queue for several app servers). HUEY_IMMEDIATE runs each task where it is queued (tests only).
    "HUEY_REDIS_URL": None,
    # The queue's name (its keys in Redis): different names let several portals share one Redis.
    "HUEY_NAME": "portal",
    "HUEY_SQLITE_PATH": None,
    "HUEY_IMMEDIATE": False,
    # Rate limits: in-process memory by default; set a redis:// URI when running several workers.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "AUTH_RATE_LIMIT": "5 per minute",
    "QUICK_PAY_MINUTES": 30,
    "PASSWORD_RESET_MAX_AGE": 3600,
    "PASSWORD_MIN_LENGTH": 10,
    # An argon2-cffi profile name; RFC 9106's low-memory profile is argon2id with 64 MiB.
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
    "DEFAULT_LOCALE": "en",
    # The languages the pages are offered in: each needs a catalog in translations/ (see the README).
    "SUPPORTED_LOCALES": ["en", "es", "zh_Hans", "vi", "ar", "bg"],
    # How many reverse proxies (load balancers) sit in front of the app and set X-Forwarded-*.
    "TRUSTED_PROXIES": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": False,
    # Signed-in sessions end after this many idle seconds (the cookie is renewed on every request).
    "PERMANENT_SESSION_LIFETIME": 30 * 60,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "WTF_CSRF_TIME_LIMIT": 3600,
    # Stripe. Empty keys mean card payments are switched off (the pay button says so); the demo and the
    # tests point these at the local stand-in, production at Stripe with live keys.
    "STRIPE_SECRET_KEY": "",
    "STRIPE_PUBLISHABLE_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
    "STRIPE_API_BASE": "https://api.stripe.com",
    "STRIPE_JS_URL": "https://js.stripe.com/v3/",
    # Stripe.js opens 3-D Secure and its card fields in frames from these origins.
    "STRIPE_FRAME_ORIGINS": ["https://js.stripe.com", "https://hooks.stripe.com"],
    # How long the payment page waits for Stripe's webhook before asking Stripe itself whether a payment went through.
    "STRIPE_WEBHOOK_GRACE_SECONDS": 10,
    # Seconds to wait for Stripe before telling the patient to try again.
    "STRIPE_TIMEOUT": 20,
    # Declined charges allowed per client address and per statement before the card form pauses (a 429):
    # enough for a patient trying a few cards, too few for someone testing stolen ones.
    "CARD_DECLINE_LIMIT": "10 per hour",
    # The smallest part payment, in minor units of the statement's currency (100 = 1.00); a smaller
    # amount due can still be paid in full.
    "PAYMENT_MINIMUM_MINOR": 100,
    # Payment plans: an account owing more than this (minor units) may pay it in monthly instalments, none
    # below the monthly minimum, over at most this many months. Patients are emailed this many days before
    # each charge. A refused instalment is tried again this many days after its date (each number is one more
    # try); when the last try is refused too, the plan is broken and goes to billing staff.
    "PAYMENT_PLAN_THRESHOLD_MINOR": 10000,
    "PAYMENT_PLAN_MINIMUM_MONTHLY_MINOR": 2500,
    "PAYMENT_PLAN_MAXIMUM_MONTHS": 12,
    "PAYMENT_PLAN_NOTICE_DAYS": 3,
    "PAYMENT_PLAN_RETRY_DAYS": [3, 7],
    # Printed statements: the paper size (a CSS page size such as "letter" or "A4"), where rendered PDFs are
    # kept (None: a folder in the instance folder), and how many a visitor may download per minute.
    "STATEMENT_PDF_PAGE_SIZE": "letter",
    "STATEMENT_PDF_CACHE_DIR": None,
    "STATEMENT_PDF_RATE_LIMIT": "30 per minute",
    # The portal's address as printed on paper statements; None means the address of the current request.
    # Batch runs (`flask statements render`) have no request and use this, or http://localhost:5000.
    "PUBLIC_URL": None,
    # The languages a patient may ask to be answered in (each named in itself on the question form), which
    # can be more than the portal's own pages are translated into: the billing office speaks them.
    "QUESTION_LANGUAGES": ["en", "es", "zh_Hans", "vi", "ar", "bg"],
    # Good faith estimates (US No Surprises Act): a self-pay bill at least this far above its estimate, in minor
    # units of the statement's currency (40000 = 400.00), may go to the federal patient-provider dispute
    # resolution process, started within this many days of the first bill, where and how the statement says.
    "GOOD_FAITH_DISPUTE_THRESHOLD_MINOR": 40000,
    "GOOD_FAITH_DISPUTE_DAYS": 120,
    "GOOD_FAITH_DISPUTE_URL": "https://www.cms.gov/nosurprises",
    "GOOD_FAITH_DISPUTE_PHONE": "1-800-985-3059",
    # Financial assistance: applications are screened against the federal poverty guidelines of this year (None:
    # the latest file in the folder; the portal ships portal/assistance/guidelines/) for this region
    # ("contiguous", "alaska" or "hawaii"), and the policy's tiers: up to this percentage of the guideline
    # (inclusive), this percentage off. Patients may apply up to this many days after their first bill.
    "FINANCIAL_ASSISTANCE_GUIDELINES_DIR": None,
    "FINANCIAL_ASSISTANCE_YEAR": None,
    "FINANCIAL_ASSISTANCE_REGION": "contiguous",
    "FINANCIAL_ASSISTANCE_TIERS": [[200, 100], [300, 50], [400, 25]],
    "FINANCIAL_ASSISTANCE_APPLY_DAYS": 240,
    # Proof of income sent with applications (None: assistance-documents in the instance folder). Never under
    # static/: only billing staff get them, through a view.
    "FINANCIAL_ASSISTANCE_UPLOAD_DIR": None,
    # The largest request body accepted: three 10 MB documents and the form around them. Larger gets a 413.
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
}


class UnsafeConfiguration(RuntimeError):
    """Raised at start-up when production mode meets an unsafe setting."""


def load_config(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, then ``PORTAL_*`` variables, then ``test_config``."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env("PORTAL")
    else:
        app.config.from_mapping(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "portal.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if is_production(app):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
        app.config["HSTS_ALWAYS"] = True
        check_production(app.config)


def is_production(app: Flask) -> bool:
    return str(app.config.get("ENV", "")).lower() == "production"


def check_production(config: dict[str, Any]) -> None:
    """Refuse settings that are fine for a demo and dangerous with real patients."""
    problems = []
    key = config.get("SECRET_KEY") or ""
    if key == DEVELOPMENT_SECRET_KEY or len(str(key)) < 32:
        problems.append("PORTAL_SECRET_KEY must be set to a random value of at least 32 characters")
    for setting in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "MAIL_SERVER"):
        if not config.get(setting):
            problems.append(f"PORTAL_{setting} must be set")
    # Links in emails (password resets above all) are built on this address, never on the request's Host header,
    # which anyone can forge to have a victim's reset link point at their own site.
    if not str(config.get("PUBLIC_URL") or "").startswith("https://"):
        problems.append("PORTAL_PUBLIC_URL must be set to the portal's https:// address")
    # In-process counts are per worker: four gunicorn workers would allow four times the sign-in attempts,
    # and a second machine as many again. Production keeps them in Redis, shared by every worker.
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        problems.append("PORTAL_RATELIMIT_STORAGE_URI must be a shared store such as redis://host:6379/0")
    if problems:
        raise UnsafeConfiguration("; ".join(problems))
