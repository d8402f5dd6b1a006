"""Locale selection, gettext helpers and the Jinja filters for money and dates.

Import ``_``, ``_l`` and ``ngettext`` from here so that every user-facing string goes through one place.
"""
from __future__ import annotations

import logging
import os
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Iterable

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import get_date_format, get_datetime_format, get_timezone_name
from babel.lists import format_list
from babel.support import Translations
from flask import Flask, current_app, g, has_app_context, request
from flask_babel import Domain, format_date, format_decimal, format_time, get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from .extensions import babel
from .money import Money

__all__ = ["_", "_l", "ngettext", "init_app", "select_locale", "current_locale", "parse_date_input",
           "date_input_example", "LOCALE_COOKIE"]

LOCALE_COOKIE = "portal_locale"

log = logging.getLogger("portal.i18n")


def select_locale() -> str:
    """Pick the locale: the login's saved preference, then the language chosen on the switcher (a cookie),
    then the browser's Accept-Language, then the hospital's default, then the portal's."""
    supported = current_app.config["SUPPORTED_LOCALES"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in supported:
        return user_locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in supported:
        return cookie
    from_header = locale_from_header(request.accept_languages, supported)
    if from_header:
        return from_header
    from .site import current_organisation

    organisation = current_organisation()
    if organisation is not None and organisation.default_locale in supported:
        return organisation.default_locale
    return current_app.config["DEFAULT_LOCALE"]


# Browsers name Simplified Chinese by region; these regions write it.
_SIMPLIFIED_CHINESE = {"zh", "zh-cn", "zh-sg", "zh-my", "zh-hans"}


def locale_from_header(accepted: Iterable[tuple[str, float]], supported: list[str]) -> str | None:
    """The first supported locale in an Accept-Language header, best quality first: "es-MX" is Spanish,
    "zh-CN" and "zh-Hans-CN" Simplified Chinese. Anything unreadable is passed over."""
    by_tag = {code.replace("_", "-").lower(): code for code in supported}
    by_language = {}
    for code in supported:
        by_language.setdefault(code.split("_")[0].lower(), code)
    for tag, quality in sorted(accepted, key=lambda item: -item[1]):
        if quality <= 0:
            continue
        tag = str(tag).strip().lower().replace("_", "-")[:35]
        if tag in by_tag:
            return by_tag[tag]
        parts = tag.split("-")
        if parts[0] == "zh":
            if "zh_Hans" in supported and (tag in _SIMPLIFIED_CHINESE or "hans" in parts[1:2]):
                return "zh_Hans"
            continue
        if parts[0] in by_language and parts[0].isalpha():
            return by_language[parts[0]]
    return None


def _select_timezone() -> str:
    # Moments (a payment) are shown on the hospital's calendar, the one its statements and due dates use.
    from .site import organisation_time_zone

    return organisation_time_zone()


def current_locale() -> str:
    # Asked for by every amount and date on a page: kept with the request's locale, as its catalog is.
    return _kept_for_locale("portal_locale_code",
                            lambda: str(get_locale() or current_app.config["DEFAULT_LOCALE"]))


@lru_cache(maxsize=64)
def language_in_itself(code: str) -> str:
    """A language's name in that language, as a chooser lists it: "Español", "中文", "العربية"."""
    try:
        locale = Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return code
    name = locale.language_name or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    """Each supported locale with its language's name in that language, for choosers."""
    return [(code, language_in_itself(code)) for code in current_app.config["SUPPORTED_LOCALES"]]


def _field_order(locale: str) -> tuple[list[str], str]:
    """Return the order of year/month/day in the locale's short date and its separator."""
    pattern = get_date_format("short", locale=locale).pattern
    order: list[str] = []
    for char in pattern:
        key = {"y": "y", "M": "m", "L": "m", "d": "d"}.get(char)
        if key and key not in order:
            order.append(key)
    separator = next((c for c in pattern if not c.isalpha() and c not in "'\u200f\u200e "), "/")
    if sorted(order) != ["d", "m", "y"]:
        order = ["y", "m", "d"]
    return order, separator


def date_input_example(locale: str, example: date = date(1985, 3, 27)) -> str:
    """Show how to type a date in ``locale``, always with a four-digit year, e.g. ``03/27/1985``."""
    order, separator = _field_order(locale)
    parts = {"y": f"{example.year:04d}", "m": f"{example.month:02d}", "d": f"{example.day:02d}"}
    return separator.join(parts[key] for key in order)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_PARTS = re.compile(r"^(\d{1,4})\D{1,2}(\d{1,4})\D{1,2}(\d{1,4})$")


def parse_date_input(text: str, locale: str) -> date:
    """Read a date typed by a person: ISO ``YYYY-MM-DD`` or the locale's own order with a 4-digit year.

    Raises ValueError when the text is not a real date in one of those forms; two-digit years are
    refused because a date of birth in ``'30`` could be either century.
    """
    text = text.strip()
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = (int(p) for p in match.groups())
        return date(year, month, day)
    match = _PARTS.match(text)
    if not match:
        raise ValueError("not a date")
    order, _separator = _field_order(locale)
    values = dict(zip(order, match.groups(), strict=True))
    if len(values["y"]) != 4:
        raise ValueError("year must have four digits")
    return date(int(values["y"]), int(values["m"]), int(values["d"]))


def money_filter(value: Any) -> str:
    if not isinstance(value, Money):
        # A bare number here would be a float or an unlabelled integer: both are bugs.
        raise TypeError(f"the money filter takes Money, not {type(value).__name__}")
    return value.format(current_locale())


def money_whole_filter(value: Any) -> str:
    if not isinstance(value, Money):
        raise TypeError(f"the money_whole filter takes Money, not {type(value).__name__}")
    return value.format_whole(current_locale())


def date_filter(value: date | datetime | None, format: str = "long") -> str:
    # A datetime is shown as its date in the hospital's time zone (Flask-Babel converts it).
    if value is None:
        return ""
    if type(value) is date:
        # A day reads the same wherever the reader is: a statement repeats its few dates on every line.
        return _day(value, format, current_locale())
    return format_date(value, format=format)


@lru_cache(maxsize=4096)
def _day(value: date, format: str, locale: str) -> str:
    return babel_format_date(value, format=format, locale=locale)


def datetime_filter(value: datetime | None, format: str = "long") -> str:
    """A moment in the hospital's time zone, to the minute: "Dec 3, 2026, 1:20 PM". Seconds mean nothing to a
    reader. The long form (a receipt) names the zone where the language has a name for it ("CST"), never as a
    bare offset ("-0600")."""
    if value is None:
        return ""
    locale = get_locale()
    text = (get_datetime_format(format, locale=locale).replace("'", "")
            .replace("{1}", format_date(value, format=format)).replace("{0}", format_time(value, format="short")))
    if format == "long":
        zone = get_timezone_name(to_user_timezone(value), width="short", locale=locale)
        if zone.isalpha():
            text = f"{text} {zone}"
    return text


def list_filter(items: Iterable[str]) -> str:
    """Items joined as the reader's language joins them: "English, Spanish and French"; in Arabic with its
    own comma and "و"."""
    items = [str(item) for item in items]
    return format_list(items, locale=current_locale()) if items else ""


def number_filter(value: int) -> str:
    # Counts (a quantity) in the reader's digits and grouping: 1,200 in English, 1.200 in Spanish.
    return format_decimal(value)


_NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)")


@lru_cache(maxsize=4096)
def _agrees(translated: str, sources: tuple[str, ...]) -> bool:
    # A page asks for hundreds of translations; each answer is checked once per process.
    allowed = set().union(*(_NAMED_PLACEHOLDER.findall(source) for source in sources))
    return set(_NAMED_PLACEHOLDER.findall(translated)) <= allowed


class _CheckedTranslations:
    """A catalog that never breaks a page: a translation asking for a placeholder the code does not give
    (a slip the catalog tests catch before release) is replaced by the English, and logged."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _checked(self, translated: str, english: str, sources: tuple[str, ...]) -> str:
        if translated == english or _agrees(translated, sources):
            return translated
        log.error("translation of %r has placeholders the code does not give; English shown", sources[0])
        return english

    def ugettext(self, message: str) -> str:
        return self._checked(self._inner.ugettext(message), message, (message,))

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return self._checked(self._inner.ungettext(singular, plural, n), singular if n == 1 else plural,
                             (singular, plural))

    gettext, ngettext = ugettext, ungettext

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _babel_state() -> dict[str, Any] | None:
    """Flask-Babel's per-request state (its locale, domain and catalog), as a dict; None outside a request or
    before Flask-Babel has made it."""
    if not has_app_context():
        return None
    state = vars(g._get_current_object()).get("_flask_babel")
    return state.__dict__ if state is not None else None


def _kept_for_locale(name: str, build: Any) -> Any:
    """What ``build()`` gives, kept for the rest of the request with the locale it was made for. force_locale()
    and refresh() replace or drop Flask-Babel's locale object, so a kept value never outlives its language."""
    state = _babel_state()
    if state is not None:
        kept = state.get(name)
        if kept is not None and kept[0] is state.get("babel_locale") is not None:
            return kept[1]
    value = build()
    state = _babel_state()  # made by Flask-Babel on the request's first look-up, perhaps just now
    if state is not None and state.get("babel_locale") is not None:
        state[name] = (state["babel_locale"], value)
    return value


def _template_gettext(message: str) -> str:
    return babel.domain_instance.get_translations().ugettext(message)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    return babel.domain_instance.get_translations().ungettext(singular, plural, n)


class _CheckedDomain(Domain):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One checking wrapper per catalog (Flask-Babel keeps one catalog per language for the process),
        # rather than one per translated string. (Outside a request it makes a throwaway empty one: not kept.)
        self._checked: dict[int, tuple[Any, _CheckedTranslations]] = {}

    def get_translations(self) -> Any:
        # A page asks hundreds of times; Flask-Babel would look up the locale and its catalog each time.
        return _kept_for_locale("portal_translations", self._checked_translations)

    def _checked_translations(self) -> Any:
        inner = super().get_translations()
        if not isinstance(inner, Translations):
            return _CheckedTranslations(inner)
        kept = self._checked.get(id(inner))
        if kept is None or kept[0] is not inner:
            kept = self._checked[id(inner)] = (inner, _CheckedTranslations(inner))
        return kept[1]


def left_to_right(text: str | None) -> str:
    """A phone number (or any text that always reads left to right) isolated as such: inside an Arabic
    sentence "+1 217-555-0142" would otherwise be reordered into "217-555-0142 1+". Its spaces and hyphens
    do not break, so that a line never ends in the middle of the number."""
    if not text:
        return ""
    return "\u2066" + text.replace(" ", "\u00a0").replace("-", "\u2011") + "\u2069"


def init_app(app: Flask) -> None:
    root = os.path.dirname(app.root_path)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", os.path.join(root, "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LOCALE"])
    babel.init_app(app, locale_selector=select_locale, timezone_selector=_select_timezone)
    # Python's gettext, lazy strings and the templates all read translations through this domain (one for
    # the extension, as Flask-Babel's own is).
    if not isinstance(babel.__dict__.get("domain_instance"), _CheckedDomain):
        babel.domain_instance = _CheckedDomain()
    # The templates' _() and ngettext() straight to the catalog (Flask-Babel's would look up the domain first).
    app.jinja_env.install_gettext_callables(gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True)
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["money_whole"] = money_whole_filter
    app.jinja_env.filters["date"] = date_filter
    app.jinja_env.filters["datetime"] = datetime_filter
    app.jinja_env.filters["number"] = number_filter
    app.jinja_env.filters["as_list"] = list_filter
    app.jinja_env.filters["ltr"] = left_to_right
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.context_processor
    def locale_context() -> dict[str, Any]:
        locale = current_locale()
        return {
            "current_locale": locale,
            "text_direction": "rtl" if get_locale().character_order == "right-to-left" else "ltr",
        }
