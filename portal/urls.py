"""Addresses: those taken from visitors are checked before use (a "next" page to return to, ids in a path), and
those sent to patients are built on the portal's public address."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

# The largest id our integer columns hold (PostgreSQL's integer is 32 bits): a bigger number in an address is
# simply not found, rather than a query the database refuses.
MAX_ID = 2**31 - 1
# The address of `make run`'s portal, for links made with no request and no PUBLIC_URL (development only:
# production refuses to start without PUBLIC_URL).
DEVELOPMENT_URL = "http://localhost:5000"


def safe_next(target: str | None) -> str | None:
    """Accept only a path on this site, so a link cannot bounce a patient to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def public_link(endpoint: str, **values: str) -> str:
    """An address on the portal as patients reach it: PUBLIC_URL when set, not the host the staff member
    happens to use (an intranet name would be useless to a patient)."""
    public = current_app.config["PUBLIC_URL"]
    if not has_request_context():
        # A background task (a payment plan's notice) has no request: PUBLIC_URL, or the development server's.
        with current_app.test_request_context("/", base_url=(public or DEVELOPMENT_URL).rstrip("/")):
            return url_for(endpoint, _external=True, **values)
    if public:
        return public.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
