"""Friendly error pages with the right status codes; a 500 never shows a traceback."""
from __future__ import annotations

from flask import Flask, abort, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .extensions import db, login_manager
from .i18n import _l

MESSAGES = {
    400: (_l("Something in that request was not right"),
          _l("Please go back, check what you entered and try again.")),
    401: (_l("Please sign in"), _l("You need to sign in to see this page.")),
    403: (_l("You can't open this page"), _l("Your login doesn't give access to this page.")),
    404: (_l("We can't find that page"),
          _l("The address may be mistyped, or the page is not available to your login.")),
    405: (_l("That didn't work"), _l("Please go back and use the buttons on the page.")),
    413: (_l("That was too much to send"), _l("Please send less text and try again.")),
    429: (_l("Too many tries"),
          _l("For your security we've paused this for a minute. Please wait a minute, then try again.")),
    500: (_l("Sorry, something went wrong on our side"),
          _l("Your details are safe and nothing was charged. Please try again in a few minutes.")),
    503: (_l("The billing portal is briefly unavailable"),
          _l("Your details are safe and nothing was charged. Please try again in a minute.")),
}

# The database is restarting, unreachable or out of connections: a passing state, not a bug. The page says
# so with a 503 and Retry-After (load balancers and Stripe's webhooks try again), and the pool's pre-ping
# replaces the dead connections once the database is back, so the portal recovers without a restart.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
RETRY_AFTER_SECONDS = 30


def _render(code: int, heading=None, message=None):  # noqa: ANN001 (lazy strings)
    default_heading, default_message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    return render_template("errors/error.html", error_page=True, code=code, heading=heading or default_heading,
                           message=message or default_message), code


def has_nul(value: object) -> bool:
    """Whether text anywhere in ``value`` (a string, or JSON-like dicts and lists) holds a NUL character, which
    PostgreSQL cannot store and no bill, form or Stripe event ever holds."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(item) for item in value)
    return False


def _refuse_nul_bytes() -> None:
    # PostgreSQL cannot store or compare text with NUL characters and would fail with a 500;
    # no person types one, so the request is simply bad.
    for values in (request.args, request.form):
        if any("\x00" in value for value in values.values()):
            abort(400)
    if "\x00" in request.path:
        abort(400)


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul_bytes)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(400, _l("This form has expired"),
                       _l("For your security, forms stop working after a while. Please go back, reload the page "
                          "and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        body, code = _render(error.code)
        # Keep the headers that tell a client what to do next (when to retry, which methods work).
        extra = {name: value for name, value in error.get_headers() if name in ("Retry-After", "Allow")}
        return body, code, extra

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        _discard_session()
        if isinstance(error, DATABASE_UNAVAILABLE):
            app.logger.warning("database unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
            body, code = _render(503)
            return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        app.logger.exception("unhandled error")
        return _render(500)


def _discard_session() -> None:
    try:
        db.session.rollback()
    except DATABASE_UNAVAILABLE:
        db.session.invalidate()
    # When loading the signed-in user was what failed, the error page must not try again (and fail again):
    # it is shown as to a visitor, which also keeps a patient's name off a page that could not check it.
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()
