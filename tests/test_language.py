"""Choosing the language: the login's preference, the switcher's cookie, the browser, the hospital's default;
every page says which it is in and offers the others, named in themselves; bad input falls back cleanly."""
from __future__ import annotations

import re

import pytest

from portal.auth.models import User
from portal.config import DEFAULTS
from portal.extensions import db
from portal.i18n import LOCALE_COOKIE, locale_from_header

from .conftest import csrf_token
from .pages import soup

SUPPORTED = ["en", "es", "zh_Hans", "vi", "ar", "bg"]


def _html(response):
    return soup(response).find("html")


@pytest.fixture
def hospital(make):
    return make.organisation()


def test_every_page_offers_each_language_named_in_itself(client, hospital):
    page = soup(client.get("/glossary"))
    form = page.find("form", class_="language-form")
    select = form.find("select", id="language-choice")
    assert page.find("label", attrs={"for": "language-choice"}).get_text(strip=True) == "Language"
    assert [(o["value"], o.get_text(strip=True)) for o in select.find_all("option")] == [
        ("en", "English"), ("es", "Español"), ("zh_Hans", "中文"), ("vi", "Tiếng Việt"), ("ar", "العربية"),
        ("bg", "Български")]
    assert select.find("option", value="ar")["lang"] == "ar" and select.find("option", selected=True)["value"] == "en"
    assert form.find("input", attrs={"name": "csrf_token"}) is not None


def test_the_footer_offers_free_language_help_in_every_language(client, hospital):
    taglines = soup(client.get("/login")).find("ul", class_="taglines").find_all("li")
    assert [li["lang"] for li in taglines] == ["en", "es", "zh-Hans", "vi", "ar", "bg"]
    assert all(hospital.phone in li.get_text().replace("\u00a0", " ").replace("\u2011", "-") for li in taglines)
    assert {li["lang"]: li["dir"] for li in taglines}["ar"] == "rtl"


@pytest.mark.parametrize("choice, lang, direction", [("es", "es", "ltr"), ("ar", "ar", "rtl"),
                                                      ("zh_Hans", "zh-Hans", "ltr")])
def test_choosing_a_language_is_remembered_for_a_guest(client, hospital, choice, lang, direction):
    token = csrf_token(client, "/glossary")
    response = client.post("/language", data={"language": choice, "next": "/glossary?q=copay",
                                              "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/glossary?q=copay"
    cookie = client.get_cookie(LOCALE_COOKIE)
    assert cookie.value == choice and cookie.http_only
    html = _html(client.get("/glossary"))
    assert (html["lang"], html["dir"]) == (lang, direction)


def test_a_signed_in_patient_keeps_the_choice_on_their_login(app, client, household, login_as):
    user, _statement = household
    login_as(user)
    client.post("/language", data={"language": "vi", "next": "/statements",
                                   "csrf_token": csrf_token(client, "/statements")})
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "vi"
    # Another browser, no cookie: the login's preference wins over the browser's language.
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": "correct horse battery",
                               "csrf_token": csrf_token(other, "/login")})
    assert _html(other.get("/statements", headers={"Accept-Language": "es"}))["lang"] == "vi"


@pytest.mark.parametrize("data, expected", [
    ({"language": "xx"}, 400),
    ({"language": "../../etc"}, 400),
    ({"language": ""}, 400),
])
def test_an_unknown_choice_is_refused_cleanly(client, hospital, data, expected):
    data["csrf_token"] = csrf_token(client, "/glossary")
    assert client.post("/language", data=data).status_code == expected
    assert client.get_cookie(LOCALE_COOKIE) is None


def test_the_switcher_needs_its_csrf_token_and_never_bounces_elsewhere(client, hospital):
    assert client.post("/language", data={"language": "es"}).status_code == 400
    token = csrf_token(client, "/glossary")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/language", data={"language": "es", "next": target, "csrf_token": token})
        assert response.headers["Location"] == "/"


@pytest.mark.parametrize("header, lang", [
    ("es-MX,es;q=0.9,en;q=0.8", "es"),
    ("zh-CN,zh;q=0.9", "zh-Hans"),
    ("zh-Hans-CN", "zh-Hans"),
    ("fr-FR, vi;q=0.5", "vi"),
    ("ar-EG", "ar"),
    ("zh-TW", "en"),  # Traditional Chinese is not offered: the hospital's default
    ("en;q=0, bg;q=0.3", "bg"),
    ("x" * 5000, "en"),
    (";;;,,,q=", "en"),
])
def test_the_browsers_language_is_used_when_nothing_was_chosen(client, hospital, header, lang):
    assert _html(client.get("/glossary", headers={"Accept-Language": header}))["lang"] == lang


def test_a_bad_cookie_is_ignored_and_the_hospitals_default_applies(client, make):
    make.organisation(default_locale="es")
    client.set_cookie(LOCALE_COOKIE, "klingon")
    assert _html(client.get("/glossary"))["lang"] == "es"
    client.set_cookie(LOCALE_COOKIE, "bg")
    assert _html(client.get("/glossary"))["lang"] == "bg"


def test_locale_from_header_reads_tags_not_guesses():
    assert locale_from_header([("es-419", 1.0)], SUPPORTED) == "es"
    assert locale_from_header([("zh-Hant", 1.0), ("zh-SG", 0.5)], SUPPORTED) == "zh_Hans"
    assert locale_from_header([("*", 1.0)], SUPPORTED) is None
    assert locale_from_header([("es", 1.0)], ["en"]) is None


def test_amounts_in_arabic_sentences_keep_their_own_order(app, client, household, login_as):
    """Inside right-to-left text an amount is isolated (U+2068 … U+2069), as <bdi> would isolate it."""
    user, statement = household
    login_as(user)
    client.post("/language", data={"language": "ar", "next": "/statements",
                                   "csrf_token": csrf_token(client, "/statements")})
    why = soup(client.get(f"/statements/{statement.number}")).find("p", class_="why").get_text()
    amounts = re.findall("\u2068([^\u2069]*)\u2069", why)
    assert amounts and all(any(ch.isdigit() for ch in amount) for amount in amounts)
    client.post("/language", data={"language": "en", "next": "/statements",
                                   "csrf_token": csrf_token(client, "/statements")})
    english = soup(client.get(f"/statements/{statement.number}")).find("p", class_="why").get_text()
    assert "\u2068" not in english and "$" in english


def test_a_translation_with_a_broken_placeholder_shows_english_never_an_error(make_app, tmp_path, caplog):
    """The catalog tests stop such a slip before release; should one reach a server, the page still works."""
    import logging

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from flask_babel import get_domain

    from portal.extensions import babel

    footer = "Questions about your bill? Call the billing office at %(phone)s."
    catalog = Catalog(locale="es")
    catalog.add(footer, "¿Preguntas? Llame al %(telefono)s.")
    catalog.add("Sign in", "Iniciar sesión")
    folder = tmp_path / "translations" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as handle:
        write_mo(handle, catalog)
    app = make_app(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "translations"))
    babel.domain_instance.cache.clear()
    try:
        with app.app_context():
            from .conftest import Factory

            Factory().organisation()
        with caplog.at_level(logging.ERROR, logger="portal.i18n"):
            response = app.test_client().get("/login", headers={"Accept-Language": "es"})
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "Iniciar sesión" in text and "Call the billing office at \u2066+1\u00a0555\u20110100\u2069." in text
        assert "placeholders the code does not give" in caplog.text
    finally:
        babel.domain_instance.cache.clear()
        with app.app_context():
            assert get_domain() is babel.domain_instance


def test_phone_numbers_read_left_to_right_inside_arabic(client, make):
    make.organisation()
    client.set_cookie("portal_locale", "ar")
    text = client.get("/login").get_data(as_text=True)
    # Isolated (U+2066 … U+2069), so that "+1 555-0100" is not reordered into "555-0100 1+" in a right-to-left line;
    # its space and hyphen do not break.
    assert text.count("\u2066+1\u00a0555\u20110100\u2069") == 1 + len(DEFAULTS["SUPPORTED_LOCALES"])
