"""The explanation glossary: its content files, loading, bad files, the /glossary page and search."""
import re
import shutil

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.glossary.content import CONTENT_DIR, ContentError, parse_glossary, read_content
from portal.glossary.models import SOURCE_LOCAL, GlossaryTerm, ServiceDescription

from .pages import soup

# The terms the issue names; each must be a term (by title or synonym) in the English glossary.
REQUIRED_TERMS = (
    "deductible", "copayment", "copay", "coinsurance", "out-of-pocket maximum", "allowed amount",
    "contractual adjustment", "explanation of benefits", "guarantor", "balance billing", "in-network",
    "out-of-network", "prior authorization", "claim", "denial", "appeal", "self-pay", "financial assistance",
    "payment plan", "statement", "due date", "itemized bill", "itemised bill", "facility fee", "professional fee",
    "revenue code", "CPT code", "HCPCS code", "good faith estimate",
)

GOOD_TERM = '''
[terms.deductible]
title = "Deductible"
synonyms = ["annual deductible"]
short = "What you pay each year before your plan pays."
explanation = """It starts again every year."""
example = """Your deductible is $500."""
'''


def test_shipped_glossary_has_the_terms_patients_meet():
    content = read_content()
    terms = content.glossary["en"]
    assert len(terms) >= 45
    names = {name.casefold() for term in terms for name in (term.title, *term.synonyms)}
    missing = [name for name in REQUIRED_TERMS if name.casefold() not in names]
    assert not missing, missing
    for term in terms:
        assert term.short and term.explanation and term.example, term.slug
        assert any(ch.isdigit() for ch in term.example), f"{term.slug}: the example has no numbers"


def test_synonyms_resolve_to_one_entry():
    terms = {t.slug: t for t in read_content().glossary["en"]}
    copay = [slug for slug, t in terms.items() if "copay" in (n.casefold() for n in (t.title, *t.synonyms))]
    assert copay == ["copayment"]


def test_load_command_loads_and_reloads(app, runner):
    result = runner.invoke(args=["glossary", "load"])
    assert result.exit_code == 0, result.output
    count = db.session.scalar(select(func.count()).select_from(GlossaryTerm))
    locales = sorted(path.name.split(".")[1] for path in CONTENT_DIR.glob("glossary.*.toml"))
    english = db.session.scalar(select(func.count()).select_from(GlossaryTerm).where(GlossaryTerm.locale == "en"))
    assert english >= 45 and count == english * len(locales), "every language has every term"
    assert f"Loaded {count} glossary terms ({', '.join(locales)})" in result.output
    # Loading again replaces rather than duplicates, and leaves the billing office's own entries alone.
    db.session.add(ServiceDescription(source=SOURCE_LOCAL, locale="en", code_system="hcpcs", code_first="J9999",
                                      code_last="J9999", name="Our own name", explanation="Our own words."))
    db.session.commit()
    assert runner.invoke(args=["glossary", "load"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(GlossaryTerm)) == count
    assert db.session.scalar(select(ServiceDescription.name).where(ServiceDescription.source == SOURCE_LOCAL)) \
        == "Our own name"


BAD_GLOSSARIES = {
    "missing key": (GOOD_TERM.replace('example = """Your deductible is $500."""\n', ""),
                    "glossary.en.toml:2: term 'deductible': missing 'example'"),
    "duplicate term": (GOOD_TERM + GOOD_TERM, "glossary.en.toml:9: Cannot declare ('terms', 'deductible') twice"),
    "synonym of two terms": (GOOD_TERM + GOOD_TERM.replace("[terms.deductible]", "[terms.yearly]")
                             .replace('title = "Deductible"', 'title = "Yearly"'),
                             "glossary.en.toml:9: term 'yearly': 'annual deductible' already names term 'deductible'"),
    "unknown key": (GOOD_TERM.replace("short =", "shrot = 'x'\nshort ="),
                    "glossary.en.toml:2: term 'deductible': unknown key 'shrot'"),
    "related term missing": (GOOD_TERM + 'related = ["premium"]\n',
                             "glossary.en.toml:2: term 'deductible': related term 'premium' does not exist"),
    "bad slug": (GOOD_TERM.replace("[terms.deductible]", '[terms."Deductible Amount"]'),
                 "glossary.en.toml:2: term 'Deductible Amount': a slug is lower-case letters, digits and hyphens"),
    "not TOML": ("[terms.deductible\ntitle = 1\n", "glossary.en.toml:1: "),
    "title not text": (GOOD_TERM.replace('title = "Deductible"', "title = 5"),
                       "glossary.en.toml:2: term 'deductible': 'title' must be text in quotes"),
    "slug the page uses": (GOOD_TERM.replace("[terms.deductible]", "[terms.main]"),
                           "glossary.en.toml:2: term 'main': this slug is used by the glossary page itself"),
    "short definition too long": (GOOD_TERM.replace("What you pay each year before your plan pays.", "word " * 31),
                                  "glossary.en.toml:2: term 'deductible': 'short' is longer than 30 words"),
    "example without numbers": (GOOD_TERM.replace("Your deductible is $500.", "You pay it first."),
                                "glossary.en.toml:2: term 'deductible': 'example' needs numbers"),
    "invisible characters": (GOOD_TERM.replace("It starts", "It\u202e starts"),
                             "glossary.en.toml:2: term 'deductible': 'explanation' contains the invisible character "
                             "U+202E"),
    "related to itself": (GOOD_TERM + 'related = ["deductible"]\n',
                          "glossary.en.toml:2: term 'deductible': a term is not related to itself"),
    "no terms": ("# nothing here\n", "glossary.en.toml: no terms"),
}


@pytest.mark.parametrize("text, problem", BAD_GLOSSARIES.values(), ids=BAD_GLOSSARIES.keys())
def test_bad_glossary_files_are_rejected_with_file_line_and_reason(text, problem):
    with pytest.raises(ContentError) as error:
        parse_glossary(text.encode(), "glossary.en.toml")
    assert any(str(p).startswith(problem) for p in error.value.problems), error.value.problems


def test_bad_encoding_names_the_line():
    data = GOOD_TERM.replace("before your plan pays", "before your plan pays \xe9").encode("latin-1")
    with pytest.raises(ContentError) as error:
        parse_glossary(data, "glossary.es.toml")
    assert str(error.value.problems[0]).startswith("glossary.es.toml:5: not UTF-8 text (byte 0xe9 at column 55)")


@pytest.fixture
def content_copy(tmp_path):
    """The English content alone, for tests that add a translation of their own."""
    folder = tmp_path / "content"
    folder.mkdir()
    for name in ("glossary.en.toml", "dictionary.en.csv"):
        shutil.copy(CONTENT_DIR / name, folder / name)
    return folder


def test_a_bad_file_loads_nothing(app, runner, glossary, content_copy):
    before = db.session.scalar(select(func.count()).select_from(GlossaryTerm))
    spanish = db.session.scalar(select(func.count()).select_from(GlossaryTerm).where(GlossaryTerm.locale == "es"))
    # A translation with a term the English glossary does not have, and a dictionary with a bad row.
    (content_copy / "glossary.es.toml").write_text(GOOD_TERM.replace("deductible]", "deducible]"), encoding="utf-8")
    (content_copy / "dictionary.es.csv").write_text("code_system,code,name,explanation\nicd,A01,Fiebre,Una fiebre.\n",
                                                    encoding="utf-8")
    result = runner.invoke(args=["glossary", "load", "--from", str(content_copy)])
    assert result.exit_code == 1
    assert "glossary.es.toml:2: term 'deducible' is not in glossary.en.toml" in result.output
    assert "dictionary.es.csv:2: unknown code system 'icd'" in result.output
    assert "Nothing was loaded; the database is unchanged." in result.output
    assert db.session.scalar(select(func.count()).select_from(GlossaryTerm)) == before
    assert db.session.scalar(select(func.count()).select_from(GlossaryTerm).where(GlossaryTerm.locale == "es")) \
        == spanish


def test_a_content_folder_without_the_english_dictionary_is_refused(app, runner, glossary, content_copy):
    # Loading it would empty the dictionary: the folder is the whole content, not a patch.
    (content_copy / "dictionary.en.csv").unlink()
    result = runner.invoke(args=["glossary", "load", "--from", str(content_copy)])
    assert result.exit_code == 1 and "no dictionary.en.csv" in result.output
    assert db.session.scalar(select(func.count()).select_from(ServiceDescription)) == sum(glossary.entries.values())


def test_a_translation_loads_beside_english_and_falls_back_term_by_term(app, client, runner, content_copy):
    (content_copy / "glossary.es.toml").write_text(GOOD_TERM.replace('"Deductible"', '"Deducible"')
                                                   .replace("What you pay each year", "Lo que paga cada año"),
                                                   encoding="utf-8")
    result = runner.invoke(args=["glossary", "load", "--from", str(content_copy)])
    assert result.exit_code == 0, result.output
    assert "(en, es)" in result.output
    from portal.glossary.services import glossary_terms

    terms = {t.slug: t for t in glossary_terms("es")}
    assert terms["deductible"].title == "Deducible"
    assert terms["copayment"].title == "Copayment"  # not translated yet: the English entry


def test_glossary_page_lists_every_term_alphabetically_with_anchors(client, glossary):
    response = client.get("/glossary")
    assert response.status_code == 200
    page = soup(response)
    entries = page.select("article.glossary-entry")
    assert len(entries) == glossary.terms["en"]
    titles = [e.h3.get_text(strip=True) for e in entries]
    assert titles == sorted(titles, key=str.casefold)
    deductible = page.select_one("#deductible")
    assert deductible.h3.get_text(strip=True) == "Deductible"
    assert deductible.select_one(".example").get_text(strip=True).startswith("Example")
    copayment = page.select_one("#copayment")
    assert "Also called: copay" in copayment.get_text(" ", strip=True)
    # Related terms link to their anchors on the same page.
    for link in page.select(".related a"):
        assert page.select_one(link["href"][len("/glossary"):]) is not None
    letters = [a.get_text(strip=True) for a in page.select(".letter-index a")]
    assert letters == sorted(letters) and "D" in letters
    search = page.select_one("form[role=search]")
    assert search["method"] == "get" and search.select_one("label[for=q]")


def test_search_works_without_javascript(client, glossary):
    page = soup(client.get("/glossary", query_string={"q": "copay"}))
    found = [e["id"] for e in page.select("article.glossary-entry")]
    assert found[0] == "copayment"  # the term it names comes before terms that mention it
    assert page.select_one("#results-heading").get_text(strip=True).endswith("match “copay”")
    assert page.select_one("#q")["value"] == "copay"


def test_search_ignores_case_and_accents_and_says_when_nothing_matches(client, glossary):
    page = soup(client.get("/glossary", query_string={"q": "DÉDUCTIBLE"}))
    assert page.select("article.glossary-entry")[0]["id"] == "deductible"
    page = soup(client.get("/glossary", query_string={"q": "  out of   pocket max"}))
    assert page.select("article.glossary-entry")[0]["id"] == "out-of-pocket-maximum"
    assert "No terms match “-”" in client.get("/glossary", query_string={"q": " - "}).get_data(as_text=True)
    response = client.get("/glossary", query_string={"q": "<script>zz</script>"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>zz" not in body and "No terms match “&lt;script&gt;zz&lt;/script&gt;”" in body


def test_a_term_link_by_any_name_opens_its_entry(client, glossary):
    for name in ("copay", "copayment", "Copay", "co-pays", "EOB"):
        response = client.get(f"/glossary/{name}")
        assert response.status_code == 302, name
    assert client.get("/glossary/copay").headers["Location"] == "/glossary#copayment"
    assert client.get("/glossary/eob").headers["Location"] == "/glossary#explanation-of-benefits"
    assert client.get("/glossary/no-such-term").status_code == 404


def test_glossary_is_public_and_says_when_it_is_empty(client):
    response = client.get("/glossary")
    assert response.status_code == 200
    assert "The glossary is not available right now." in response.get_data(as_text=True)


def test_the_arabic_glossary_files_a_term_by_its_letter_after_the_article(client, glossary):
    client.set_cookie("portal_locale", "ar")
    page = soup(client.get("/glossary"))
    sections = {section.h2.get_text(strip=True): [e.h3.get_text(strip=True) for e in section.select("article")]
                for section in page.select("section[aria-labelledby^=letter-]")}
    filed = [(letter, title) for letter, titles in sections.items() for title in titles]
    # Coinsurance ("التأمين المشترك") is under ت and the charges ("الرسوم") under ر: the letter after "ال", as
    # Arabic indexes file words; under ا are only words whose own first letter is alef ("الإحالة", referral).
    assert ("ت", "التأمين المشترك") in filed and ("ر", "الرسوم") in filed and ("ا", "الإحالة") in filed
    assert len(sections["ا"]) < len(filed) / 4
    letters = list(sections)
    assert len(letters) == len(set(letters))  # each letter once: the terms are sorted the way they are filed


def test_new_wording_loaded_anywhere_reaches_every_worker_with_the_next_request(app, make_app, glossary):
    """Workers keep the glossary and the dictionary in memory; a load on another machine changes the content
    token in the same transaction, and the next request here reads the new wording."""
    from portal.glossary.cache import content_changed
    from portal.glossary.services import describe_codes

    client = app.test_client()
    assert "The most your insurance plan will pay" in client.get("/glossary").get_data(as_text=True)
    english_name = describe_codes([("cpt", "99213")], "en")[("cpt", "99213")].name
    elsewhere = make_app()  # another worker, with its own database session
    with elsewhere.app_context():
        term = db.session.scalar(select(GlossaryTerm).filter_by(locale="en", slug="allowed-amount"))
        term.short_definition = "What your plan agreed the service costs."
        db.session.add(ServiceDescription(source=SOURCE_LOCAL, locale="en", code_system="cpt", code_first="99213",
                                          code_last="99213", name="Our own visit name", explanation="Ours."))
        content_changed()
        db.session.commit()
    page = client.get("/glossary").get_data(as_text=True)
    assert "What your plan agreed the service costs." in page and "The most your insurance plan" not in page
    with app.test_request_context():
        assert describe_codes([("cpt", "99213")], "en")[("cpt", "99213")].name == "Our own visit name" != english_name


def test_a_marked_term_is_the_same_on_every_page_numbered_for_its_page_and_follows_new_wording(
        app, client, make, login_as, glossary):
    """A term's button and popover are rendered once per worker and copied: every page gets them whole, with ids
    counted from its own start, and new wording shows on the next page."""
    from portal.glossary.cache import content_changed

    statement = make.statement(lines=3)
    login_as(make.user(accounts=[statement.account]))
    pages = [client.get(f"/statements/{statement.number}").get_data(as_text=True) for _ in range(2)]
    # Alike but for the forms' CSRF tokens, which are signed with the second they were made in.
    assert re.sub(r'name="csrf_token" value="[^"]+"', "", pages[0]) == \
        re.sub(r'name="csrf_token" value="[^"]+"', "", pages[1])
    ids = re.findall(r'popover id="(term-\d+)"', pages[0])
    assert ids[:2] == ["term-1", "term-2"] and len(ids) == len(set(ids)) > 2
    assert "\x00" not in pages[0]
    # Each button opens its own popover, and the popover names its own title.
    for element_id in ids:
        assert f'id="{element_id}-button" popovertarget="{element_id}"' in pages[0]
        assert f'aria-labelledby="{element_id}-title"><span class="term-popover-title" id="{element_id}-title">' \
               in pages[0]
    term = db.session.scalar(select(GlossaryTerm).filter_by(locale="en", slug="allowed-amount"))
    assert term.short_definition in pages[0]
    term.short_definition = "What your plan agreed the service costs."
    content_changed()
    db.session.commit()
    page = client.get(f"/statements/{statement.number}").get_data(as_text=True)
    assert "What your plan agreed the service costs." in page and pages[0].count("term-popover-text") == \
        page.count("term-popover-text")
