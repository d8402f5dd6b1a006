"""The glossary and the service dictionary, kept in each worker's memory between requests.

Every statement page needs both (its terms marked, its services named), and reading them costs more than the
rest of the page's data. They change only when ``flask glossary load`` or ``flask dictionary import`` runs,
perhaps on another machine: each of those gives ``content_versions`` a new random token in the same
transaction. A request reads the token (one primary-key query) and uses what this worker built for that token,
or builds it again, so every worker on every machine shows new wording from the next request on. Nothing here
is state of its own: it is a copy of rows, checked against the database on every request.
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g
from sqlalchemy import select, update

from ..extensions import db
from .models import ContentVersion

NAME = "plain_language"
T = TypeVar("T")

# (token, {key: value}) swapped as one object, so that a thread never pairs one token with another's values.
_built: list[tuple[str | None, dict[tuple, Any]]] = [(None, {})]
_lock = threading.Lock()


def current_token() -> str | None:
    """This request's content token (read once a request); None when no content was ever loaded."""
    if "content_token" not in g:
        g.content_token = db.session.scalar(select(ContentVersion.token).where(ContentVersion.name == NAME))
    return g.content_token


def forget_token() -> None:
    """Read the token again at its next use: run before every request, even where a request runs in an
    application context that outlives it (the tests)."""
    g.pop("content_token", None)


def content_changed() -> None:
    """Call in the transaction that changes the glossary or the dictionary: the other workers rebuild."""
    token = secrets.token_hex(16)
    if not db.session.execute(update(ContentVersion).where(ContentVersion.name == NAME)
                              .values(token=token)).rowcount:
        db.session.add(ContentVersion(name=NAME, token=token))
    db.session.flush()
    forget_token()


def cached(key: tuple, build: Callable[[], T]) -> T:
    """What ``build`` makes from the content, built once per worker and content token. Without a token (the
    table emptied, as the tests do) nothing is kept."""
    token = current_token()
    if token is None:
        return build()
    built_for, values = _built[0]
    if built_for == token and key in values:
        return values[key]
    value = build()
    with _lock:
        built_for, values = _built[0]
        if built_for != token:
            values = {}
            _built[0] = (token, values)
        values[key] = value
    return value
