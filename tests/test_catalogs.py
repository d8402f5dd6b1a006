"""Every translation catalog is complete and safe: each source string translated (every plural form), nothing
fuzzy or obsolete, and every placeholder the code fills in present, with none the code does not give (which
would fail the page). Each offender is named."""
from __future__ import annotations

import os
import re

import pytest
from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSLATIONS = os.path.join(ROOT, "translations")
LOCALES = sorted(name for name in os.listdir(TRANSLATIONS)
                 if os.path.isfile(os.path.join(TRANSLATIONS, name, "LC_MESSAGES", "messages.po")))
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%([sdif])")


def placeholders(text: str) -> set[str]:
    return {named or positional for named, positional in PLACEHOLDER.findall(text)}


def catalog(locale: str):
    with open(os.path.join(TRANSLATIONS, locale, "LC_MESSAGES", "messages.po"), "rb") as handle:
        return read_po(handle, locale=locale)


def template():
    with open(os.path.join(TRANSLATIONS, "messages.pot"), "rb") as handle:
        return read_po(handle)


def problems(locale: str) -> list[str]:
    found = []
    source = template()
    po = catalog(locale)
    expected = {message.id if isinstance(message.id, str) else message.id[0] for message in source if message.id}
    present = set()
    for message in po:
        if not message.id:
            continue
        singular = message.id if isinstance(message.id, str) else message.id[0]
        present.add(singular)
        label = f"{locale}: {singular[:70]!r}"
        if message.fuzzy:
            found.append(f"{label} is fuzzy")
        forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        if isinstance(message.id, (list, tuple)):
            if len(forms) != po.num_plurals:
                found.append(f"{label} has {len(forms)} plural forms, the language has {po.num_plurals}")
            allowed = placeholders(message.id[0]) | placeholders(message.id[1])
            required = allowed - {"num"}
        else:
            allowed = required = placeholders(message.id)
        for form in forms:
            if not form:
                found.append(f"{label} is not translated")
                continue
            used = placeholders(form)
            if used - allowed:
                found.append(f"{label} uses {sorted(used - allowed)}, which the code does not give")
            if required - used:
                found.append(f"{label} leaves out {sorted(required - used)}")
    for missing in sorted(expected - present):
        found.append(f"{locale}: {missing[:70]!r} is missing (run `make messages`)")
    for obsolete in po.obsolete:
        found.append(f"{locale}: {obsolete!r} is obsolete")
    for extra in sorted(present - expected):
        found.append(f"{locale}: {extra[:70]!r} is no longer in the source")
    return found


def test_there_are_catalogs():
    assert LOCALES, "no catalogs in translations/"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalog_is_complete_and_its_placeholders_match(locale):
    found = problems(locale)
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def test_every_language_has_every_glossary_term_and_every_dictionary_code():
    from portal.config import DEFAULTS
    from portal.glossary.content import SOURCE_LOCALE, read_content

    content = read_content()
    english_terms = {term.slug for term in content.glossary[SOURCE_LOCALE]}
    english_codes = {entry.key for entry in content.dictionary[SOURCE_LOCALE]}
    found = []
    for locale in DEFAULTS["SUPPORTED_LOCALES"]:
        terms = {term.slug for term in content.glossary.get(locale, [])}
        codes = {entry.key for entry in content.dictionary.get(locale, [])}
        found += [f"{locale}: glossary term {slug!r} missing" for slug in sorted(english_terms - terms)]
        found += [f"{locale}: dictionary entry {key} missing" for key in sorted(english_codes - codes)]
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found[:50])


CONSISTENT_TERMS = {"deductible": "deductible", "copay": "copayment", "coinsurance": "coinsurance"}


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "en"])
def test_each_billing_term_is_said_one_way_in_each_language(locale):
    """Every translated sentence that mentions a deductible, copay or coinsurance calls it by the glossary's
    name for it in that language (its title, or a form of it the glossary lists), so the page marks it and
    patients meet one word."""
    from portal.glossary.content import read_content

    terms = {term.slug: term for term in read_content().glossary[locale]}
    found = []
    for message in catalog(locale):
        if not message.id:
            continue
        english = " ".join(message.id) if isinstance(message.id, tuple) else message.id
        forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
        for word, slug in CONSISTENT_TERMS.items():
            if word not in english.lower():
                continue
            term = terms[slug]
            names = [name.lower() for name in (term.title, *term.matches)]
            for form in forms:
                if not any(name in form.lower() for name in names):
                    found.append(f"{locale}: {english[:60]!r} -> {form[:60]!r} does not say {term.title!r}")
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)
