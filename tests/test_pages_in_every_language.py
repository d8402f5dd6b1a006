"""Every page type, in every language the portal offers, declares its language and direction and shows no
English: no sentence from the English catalog, glossary or service dictionary is left on it. (Text that
patients and staff wrote, and names, stay as written.)"""
from __future__ import annotations

import csv
import os
import re
import tomllib

import pytest
from babel.messages.pofile import read_po

from portal.config import DEFAULTS

from .conftest import csrf_token
from .pages import soup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT = os.path.join(ROOT, "portal", "glossary", "content")
LOCALES = [code for code in DEFAULTS["SUPPORTED_LOCALES"] if code != "en"]
RTL = {"ar"}


def _english_phrases() -> set[str]:
    """Pieces of English at least three words long: catalog strings cut at their placeholders, and the
    English glossary's and dictionary's texts, sentence by sentence."""
    phrases = set()
    with open(os.path.join(ROOT, "translations", "messages.pot"), "rb") as handle:
        for message in read_po(handle):
            for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
                phrases.update(re.split(r"%\(\w+\)[sdif]", text or ""))
    with open(os.path.join(CONTENT, "glossary.en.toml"), "rb") as handle:
        for term in tomllib.load(handle)["terms"].values():
            for key in ("short", "explanation"):
                phrases.update(re.split(r"(?<=[.!?])\s+", term[key]))
    with open(os.path.join(CONTENT, "dictionary.en.csv"), encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            phrases.update(re.split(r"(?<=[.!?])\s+", row["explanation"]))
    cleaned = {" ".join(p.strip(" .,:;()?!\"'“”").split()) for p in phrases}
    return {p for p in cleaned if len(p.split()) >= 3}


ENGLISH = _english_phrases()


def _text(response) -> str:
    """What the page says in its own language: parts marked as another language (the language names on the
    switcher, the taglines offering help in each language) are left out."""
    page = soup(response)
    own = page.find("html")["lang"]
    for element in page.find_all(attrs={"lang": True}):
        if element.name != "html" and element["lang"] != own:
            element.decompose()
    for element in page.find_all(["script", "style"]):
        element.decompose()
    return " ".join(page.get_text(" ").split())


def _check(client, url: str, locale: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    html = soup(response).find("html")
    assert html["lang"] == locale.replace("_", "-") and html["dir"] == ("rtl" if locale in RTL else "ltr"), url
    text = _text(response)
    left = sorted(phrase for phrase in ENGLISH if phrase in text)
    assert not left, f"{locale} {url} still shows English: {left[:10]}"


def _choose(client, locale: str, page: str) -> None:
    client.post("/language", data={"language": locale, "next": page, "csrf_token": csrf_token(client, page)})


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return app


def _sign_in(client, login_as, email: str, password: str, locale: str, home: str) -> None:
    from portal.auth.models import User

    login_as(User.query.filter_by(email=email).one(), password)
    _choose(client, locale, home)


def _links(client, url: str, pattern: str) -> list[str]:
    return sorted(set(re.findall(pattern, client.get(url).get_data(as_text=True))))


@pytest.mark.parametrize("locale", LOCALES)
def test_a_patients_pages(demo, client, login_as, locale):
    _sign_in(client, login_as, "patient@example.org", "demo-patient-1", locale, "/statements")
    pages = ["/statements", "/payments", "/questions", "/glossary", "/glossary?q=copay"]
    for number in _links(client, "/statements", r'href="/statements/(\d+)"'):
        pages += [f"/statements/{number}", f"/statements/{number}/ask", f"/statements/{number}/pay"]
        pages += _links(client, f"/statements/{number}", r'href="(/statements/\d+/lines/\d+/dispute)"')[:1]
        pages.append(f"/statements/{number}/financial-assistance")
    pages.append("/financial-assistance")
    pages += _links(client, "/questions", r'href="(/questions/[\w-]+)"')
    for url in pages:
        if client.get(url).status_code == 200:
            _check(client, url, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_pages_without_a_login(demo, client, locale):
    _choose(client, locale, "/login")
    for url in ("/login", "/quick-pay", "/register", "/password/forgot", "/glossary", "/financial-assistance"):
        _check(client, url, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_billing_offices_pages(demo, client, login_as, locale):
    _sign_in(client, login_as, "supervisor@example.org", "demo-supervisor-1", locale, "/staff")
    questions = _links(client, "/staff?scope=all", r'href="(/staff/questions/[\w-]+)"')
    # The demo's disputes: one decided (a correction taken off the bill) and one open, with the bill beside them.
    disputes = _links(client, "/statements/400100066", r'href="(/staff/questions/[\w-]+)"')
    assert len(disputes) == 2
    for url in ["/staff", "/staff?scope=all", "/staff/dashboard", "/staff/statements", *questions[:2], *disputes,
                "/statements/400100066"]:
        _check(client, url, locale)
