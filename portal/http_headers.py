"""Security headers on every response, and trust in the load balancer's X-Forwarded-* headers."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-src": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def _policy(extra: Mapping[str, Iterable[str]] | None = None) -> str:
    parts = []
    for name, sources in _DIRECTIVES.items():
        added = list((extra or {}).get(name, ()))
        if added and sources == ["'none'"]:
            sources = []
        parts.append(" ".join(dict.fromkeys([name, *sources, *added])))
    return "; ".join(parts)


# No inline script or style anywhere, and no third party: only the card form adds Stripe's origins.
CONTENT_SECURITY_POLICY = _policy()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def card_form_policy(config: Mapping[str, Any]) -> str:
    """The policy of the pages that carry the card form: ours plus Stripe.js, its API and its frames."""
    script = _origin(config["STRIPE_JS_URL"])
    return _policy({"script-src": [script], "connect-src": [_origin(config["STRIPE_API_BASE"]), script],
                    "frame-src": [script, *config["STRIPE_FRAME_ORIGINS"]],
                    "img-src": ["https://*.stripe.com"]})


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # In production HSTS goes on every response: a load balancer that forgot to say the request came over
    # HTTPS must not switch it off (browsers ignore it on a plain-HTTP response, so it costs nothing there).
    if request.is_secure or current_app.config.get("HSTS_ALWAYS"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Bills are private: no shared or browser cache may keep a page once the patient signs out.
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.after_request(_add_headers)
