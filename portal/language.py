"""Choosing the language: the switcher on every page, remembered in a cookie (and on the login, when signed
in), and the taglines offering free language help in every language the portal speaks."""
from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_babel import force_locale
from flask_login import current_user

from .extensions import db
from .i18n import LOCALE_COOKIE, _, language_choices, left_to_right
from .site import current_organisation
from .urls import safe_next

bp = Blueprint("language", __name__)

COOKIE_SECONDS = 365 * 24 * 3600


@bp.route("/language", methods=["POST"])
def choose():
    """Switch to the language chosen on the switcher and go back to the page it was on."""
    choice = (request.form.get("language") or "")[:16]
    if choice not in current_app.config["SUPPORTED_LOCALES"]:
        abort(400)
    if current_user.is_authenticated:
        current_user.locale = choice
        db.session.commit()
    response = redirect(safe_next(request.form.get("next")) or url_for("billing.home"))
    response.set_cookie(LOCALE_COOKIE, choice, max_age=COOKIE_SECONDS, httponly=True, samesite="Lax",
                        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
    return response


def taglines() -> list[tuple[str, str, str]]:
    """(locale, direction, text): "Free help in your language" in every language the portal speaks, each
    in that language, with the billing office's phone."""
    organisation = current_organisation()
    if organisation is None:
        return []
    return list(_taglines(tuple(code for code, _name in language_choices()), organisation.phone))


@lru_cache(maxsize=64)
def _taglines(codes: tuple[str, ...], phone: str) -> tuple[tuple[str, str, str], ...]:
    # The same for every page: the catalogs are read once per process, and the phone is part of the key.
    lines = []
    for code in codes:
        with force_locale(code):
            text = _("Language help is free. Call %(phone)s.", phone=left_to_right(phone))
        direction = "rtl" if Locale.parse(code).character_order == "right-to-left" else "ltr"
        lines.append((code.replace("_", "-"), direction, text))
    return tuple(lines)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def language_context() -> dict:
        return {"language_options": language_choices(), "language_taglines": taglines}
