"""PDF statements: what they say, who may download them, the languages and scripts they print, the cache in
front of WeasyPrint and statement runs from the command line. PDFs are read back with pypdf, as a patient's
PDF reader or an insurer's system would read them."""
from __future__ import annotations

import io
import os
import re
from datetime import date, timedelta

import pypdf
import pytest
from flask_babel import force_locale, gettext
from fontTools.ttLib import TTFont

from portal.audit.models import AuditEvent
from portal.billing.models import LineItem, Statement
from portal.glossary.cache import content_changed
from portal.glossary.models import GlossaryTerm, ServiceDescription
from portal.payments.models import Payment
from portal.extensions import db
from portal.statements import cache, pdf, services

from .conftest import csrf_token
from .pages import amounts, cents, soup


def read_pdf(data: bytes) -> pypdf.PdfReader:
    assert data.startswith(b"%PDF-"), data[:20]
    return pypdf.PdfReader(io.BytesIO(data))


def page_texts(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in read_pdf(data).pages]


def full_text(data: bytes) -> str:
    return " ".join(page_texts(data))


def figures(data: bytes) -> list[str]:
    """The text alternatives of the figures in the PDF's structure tree (what a screen reader announces)."""
    found = []

    def walk(node) -> None:  # noqa: ANN001 (a pypdf object)
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            if node.get("/S") == "/Figure":
                found.append(str(node.get("/Alt")))
            if "/K" in node:
                walk(node["/K"])

    walk(read_pdf(data).trailer["/Root"]["/StructTreeRoot"])
    return found


def missing_glyphs(data: bytes) -> list[tuple[str, int]]:
    """Glyphs the PDF draws that its fonts do not have, as (font, glyph id).

    WeasyPrint prints a character no installed font covers with a glyph id past the end of the font (or
    glyph 0, ".notdef"), and says nothing. Each embedded font's ToUnicode map lists the glyph ids the page
    uses; the embedded font file says how many glyphs it really has.
    """
    missing = []
    for page in read_pdf(data).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            if font.get("/Subtype") != "/Type0":
                continue
            descendant = font["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            embedded = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
            count = TTFont(io.BytesIO(embedded.get_object().get_data()))["maxp"].numGlyphs
            cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            used = []
            for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
                used += [int(glyph, 16) for glyph in re.findall(r"<([0-9a-fA-F]+)>\s*<[0-9a-fA-F]+>", block)]
            for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
                for first, last in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                    used += range(int(first, 16), int(last, 16) + 1)
            missing += [(str(descendant["/BaseFont"]), glyph) for glyph in used if glyph == 0 or glyph >= count]
    return missing


@pytest.fixture
def download(client):
    def get(number: str, **query):
        return client.get(f"/statements/{number}/pdf", query_string=query)

    return get


# --- The document ----------------------------------------------------------------------------------------

def test_a_patient_downloads_their_statement(client, make, login_as, household, download):
    user, statement = household
    login_as(user)
    page = soup(client.get(f"/statements/{statement.number}"))
    link = page.find("a", href=f"/statements/{statement.number}/pdf")
    assert link is not None and "Download this statement (PDF)" in link.get_text()

    response = download(statement.number)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename=statement-{statement.number}-en.pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Language"] == "en"
    assert response.headers["ETag"]
    data = response.get_data()
    text = full_text(data)
    account = statement.account
    for expected in ("Test General Hospital", "1 Test Way", "Testville", "+1 555-0100", account.guarantor_name,
                     "2 Home Street", f"Statement {statement.number}", account.number, "Amount due", "Pay by",
                     statement.statement_date.strftime("%B %-d, %Y"), statement.due_date.strftime("%B %-d, %Y"),
                     "TEST SERVICE 1", "CPT code 99200", "How to pay", "Questions about this bill?"):
        assert expected in text, expected
    events = AuditEvent.query.filter_by(action="statement.pdf_downloaded").all()
    assert [(e.actor_kind, e.actor_user_id, e.subject_id) for e in events] == [("patient", user.id, statement.id)]


def test_every_page_has_its_number_the_statement_number_and_the_visit_it_continues(app, client, make, login_as,
                                                                                   download):
    account = make.account()
    statement = make.statement(account, lines=45, visits=1)
    login_as(make.user(accounts=[account]))
    data = download(statement.number).get_data()
    pages = page_texts(data)
    assert len(pages) >= 3
    visit_heading = statement.visits[0].visit_date.strftime("%B %-d, %Y") + " – Emergency"
    for index, text in enumerate(pages, start=1):
        assert f"Page {index} of {len(pages)}" in text
        assert f"Statement {statement.number}" in text
    # The visit's heading and column names are repeated on every page its lines run onto.
    continued = [text for text in pages if "TEST SERVICE 45" in text or "TEST SERVICE 30" in text]
    assert continued and all(visit_heading in text and "Insurance paid" in text for text in continued)
    # No line is split from its explanation: each line's name is on one page, and every page has as many
    # explanations (each begins "The hospital charged $100.00.") as it has lines.
    for n in range(1, 46):
        name = f"TEST SERVICE {n} "
        where = [i for i, text in enumerate(pages) if name in text + " "]
        assert len(where) == 1, n
    for text in pages:
        assert len(re.findall(r"TEST SERVICE \d+ ", text)) == text.count("The hospital charged $100.00.")


def test_the_pdf_is_tagged_titled_and_declares_its_language(client, household, login_as, download):
    user, statement = household
    login_as(user)
    reader = read_pdf(download(statement.number).get_data())
    catalog = reader.trailer["/Root"]
    assert catalog["/Lang"] == "en"
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert bool(catalog["/ViewerPreferences"]["/DisplayDocTitle"])
    assert reader.metadata.title == f"Statement {statement.number} – Test General Hospital"
    assert b"pdfuaid" in catalog["/Metadata"].get_object().get_data()


def test_totals_and_lines_equal_the_web_page_to_the_cent(client, make, login_as, download):
    account = make.account()
    statement = make.statement(account, lines=7, visits=3)
    make.payment(statement, 1234, card_last4="4242")
    make.payment(statement, 500, method="external")
    login_as(make.user(accounts=[account]))
    web = soup(client.get(f"/statements/{statement.number}"))
    web_totals = amounts(web.find_all("dl", class_="amounts")[0])
    text = full_text(download(statement.number).get_data())

    def printed(label: str) -> int:
        match = re.search(re.escape(label) + r" (-?\$[\d,]+\.\d\d)", text)
        assert match, label
        return cents(match.group(1))

    for label in ("Charges", "Insurance paid", "Adjustments", "You owe for these services", "Payments received",
                  "Amount due"):
        assert printed(label) == web_totals[label], label
    assert printed("Amount due") == 7 * 3000 - 1234 - 500
    # Each line's charge, insurance paid, adjustments and share, in that order on its row.
    rows = re.findall(r"TEST SERVICE \d+ CPT code \d+ \S+ 1 \$([\d,.]+) \$([\d,.]+) \$([\d,.]+) \$([\d,.]+)", text)
    assert len(rows) == 7
    assert {tuple(cents(v) for v in row) for row in rows} == {(10000, 4000, 3000, 3000)}
    assert "$12.34" in text and "card ending in 4242" in text and "paid to the billing office" in text


def test_the_glossary_appendix_explains_the_terms_this_statement_uses_and_no_others(client, make, login_as,
                                                                                     glossary, download):
    from portal.glossary.services import glossary_terms

    account = make.account()
    statement = make.statement(account, lines=2)
    login_as(make.user(accounts=[account]))
    text = full_text(download(statement.number).get_data())
    body, appendix = text.split("What the words on this bill mean")
    # The running header and footer are not part of the appendix.
    appendix = re.sub(r"Page \d+ of \d+|Test General Hospital|Statement \d+", " ", appendix)
    terms = glossary_terms("en")
    listed = [term for term in terms if f" {term.title} " in f" {appendix} "
              and term.short_definition.split(".")[0][:40] in appendix]
    titles = {term.title for term in listed}
    assert {"Deductible", "Coinsurance", "Copayment"} <= titles, titles
    unused = [term for term in terms if term not in listed]
    assert unused, "every glossary term was listed"
    for term in unused:
        assert term.short_definition[:40] not in appendix, term.title
    for term in listed:
        assert any(name.lower() in body.lower() for name in [term.title, *term.synonyms, *term.matches]), term.title


def test_how_to_pay_prints_the_quick_pay_address_and_a_qr_code(app, client, household, login_as, download):
    user, statement = household
    login_as(user)
    data = download(statement.number).get_data()
    text = full_text(data)
    assert f"You will need the statement number {statement.number}" in text
    assert "http://localhost/" in text
    # The QR code is a figure of the tagged PDF, with a text alternative for screen readers.
    assert figures(data) == [f"QR code that opens quick pay for statement {statement.number}"]
    # The code is the quick-pay address of this statement, which fills in the number on the form.
    with app.test_request_context(base_url="http://localhost"):
        from flask import url_for

        url = url_for("auth.quick_pay", statement=statement.number, _external=True)
    assert url == f"http://localhost/quick-pay?statement={statement.number}"
    import segno

    assert pdf.quick_pay_qr(url) == segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#000",
                                                                          light="#fff")
    form = soup(client.get(url))
    assert form.find("input", attrs={"name": "statement_number"})["value"] == statement.number


def test_a_statement_with_no_lines_and_a_paid_one_still_print(client, make, login_as, download):
    account = make.account()
    empty = make.statement(account, lines=0)
    paid = make.statement(account, lines=1)
    make.payment(paid, 3000)
    login_as(make.user(accounts=[account]))
    empty_text = full_text(download(empty.number).get_data())
    assert "There are no services on this statement." in empty_text and "$0.00" in empty_text
    paid_text = full_text(download(paid.number).get_data())
    assert "You have nothing left to pay on this statement." in paid_text
    assert "Nothing to pay" in paid_text


def _widest_box(html: str) -> tuple[float, float]:
    """Lay out ``html`` and return (the right edge of its widest box, the page's width), in CSS px."""
    import weasyprint

    printer = pdf._printer()
    document = weasyprint.HTML(string=html, base_url=printer.base_url, url_fetcher=printer.fetcher).render(
        stylesheets=[printer.stylesheet], font_config=printer.fonts)
    widest, width = 0.0, 0.0
    for page in document.pages:
        width = page._page_box.margin_width()
        stack = [page._page_box]
        while stack:
            box = stack.pop()
            widest = max(widest, box.position_x + box.margin_width())
            stack.extend(getattr(box, "children", ()))
    return widest, width


def test_very_long_names_and_addresses_wrap_inside_the_page(app, make):
    long_word = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessen" * 2
    account = make.account(f"{long_word} Senior", mailing_address=f"Apartment {long_word}\n{long_word} Boulevard")
    statement = make.statement(account, lines=2)
    statement.visits[0].lines[0].description = "X" * 300
    statement.visits[0].provider = long_word
    db.session.commit()
    with app.test_request_context(base_url="http://localhost"):
        document = pdf.statement_document(statement, "en")
        widest, width = _widest_box(document.html)
        assert widest <= width + 0.5, (widest, width)
        text = "".join(full_text(pdf.print_pdf(document.html)).split())
    assert long_word in text


# --- Access -------------------------------------------------------------------------------------------------

def test_only_those_who_may_see_the_statement_may_download_it(client, make, login_as, submit, download):
    account = make.account()
    statement = make.statement(account, lines=1)
    assert download(statement.number).status_code == 404
    login_as(make.user("other@example.org", accounts=[make.account("Other Household")]))
    assert download(statement.number).status_code == 404
    assert download("not-a-number").status_code == 404


def test_a_quick_pay_guest_and_billing_staff_may_download(app, make, submit, login_as, download, client):
    account = make.account()
    make.patient(account)
    statement = make.statement(account, lines=1)
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    assert download(statement.number).status_code == 200
    for email, role, code in (("clerk@example.org", "staff", 404), ("boss@example.org", "supervisor", 200)):
        # Billing staff only for the statements of questions given to them; supervisors for any.
        staff_client = app.test_client()
        make.user(email, role=role)
        staff_client.post("/login", data={"email": email, "password": "correct horse battery",
                                          "csrf_token": csrf_token(staff_client, "/login")})
        assert staff_client.get(f"/statements/{statement.number}/pdf").status_code == code
    kinds = sorted(e.actor_kind for e in AuditEvent.query.filter_by(action="statement.pdf_downloaded"))
    assert kinds == ["guest", "supervisor"]


def test_downloads_are_rate_limited(app, client, household, login_as, download):
    user, statement = household
    login_as(user)
    app.config["STATEMENT_PDF_RATE_LIMIT"] = "2 per minute"
    codes = [download(statement.number).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- Languages and scripts ----------------------------------------------------------------------------------

def test_an_unknown_language_falls_back_to_the_patients_own_with_a_note(client, household, login_as, download):
    user, statement = household
    login_as(user)
    versions = set()
    for lang in ("xx", "<script>", "e" * 500, "zz-ZZ"):
        response = download(statement.number, lang=lang)
        assert response.status_code == 200
        assert response.headers["Content-Language"] == "en"
        text = full_text(response.get_data())
        assert "This statement is not available in the language you asked for, so it is printed in English." in text
        assert "<script>" not in text
        versions.add(response.headers["ETag"])
    # Whatever odd language is asked for, it is the same PDF, printed once.
    assert len(versions) == 1
    plain = full_text(download(statement.number, lang="en").get_data())
    assert "not available in the language" not in plain


def test_another_supported_language_is_offered_and_printed(app, client, household, login_as, download):
    user, statement = household
    login_as(user)
    app.config["SUPPORTED_LOCALES"] = ["en", "es"]
    form = soup(client.get(f"/statements/{statement.number}")).find("form", class_="download-language")
    assert form["method"] == "get" and form["action"] == f"/statements/{statement.number}/pdf"
    options = {option["value"]: option.get_text() for option in form.find_all("option")}
    assert options == {"en": "English", "es": "Español"}
    assert form.find("label", attrs={"for": "pdf-lang"}) is not None
    response = download(statement.number, lang="es")
    assert response.headers["Content-Language"] == "es"
    assert response.headers["Content-Disposition"].endswith(f"statement-{statement.number}-es.pdf")
    text = full_text(response.get_data())
    assert "90,00" in text  # Spanish number format, the statement's own currency
    assert read_pdf(response.get_data()).trailer["/Root"]["/Lang"] == "es"


NAMES = {
    # locale: (guarantor, street, a line's description) in the scripts patients of that language write
    "en": ("Alex Guarantor", "2 Home Street", "OFFICE VISIT"),
    "es": ("José Núñez Peña", "Calle Mayor 5, 3º izq.", "CONSULTA MÉDICA"),
    "zh_Hans": ("王小明", "北京市朝阳区建国路88号", "门诊就诊"),
    "vi": ("Nguyễn Thị Hương", "12 Đường Lê Lợi, Quận 1", "KHÁM BỆNH NGOẠI TRÚ"),
    "ar": ("محمد عبد الله", "شارع الملك فهد", "زيارة العيادة"),
    "bg": ("Иван Петров", "ул. Шипка 7, София", "ПРЕГЛЕД ПРИ ЛЕКАР"),
}


@pytest.mark.parametrize("locale", sorted(NAMES))
def test_every_script_prints_with_no_missing_glyph(app, make, locale):
    guarantor, street, description = NAMES[locale]
    account = make.account(guarantor, mailing_address=f"{street}\n{guarantor}", preferred_locale=locale)
    statement = make.statement(account, lines=2)
    statement.visits[0].lines[0].description = description
    statement.visits[0].lines[0].code = "X9999"
    statement.visits[0].lines[0].code_system = "hcpcs"
    db.session.commit()
    with app.test_request_context(base_url="http://localhost"):
        document = pdf.statement_document(statement, locale)
        data = pdf.print_pdf(document.html)
    assert f'lang="{locale.replace("_", "-")}"' in document.html
    assert f'dir="{"rtl" if locale == "ar" else "ltr"}"' in document.html
    # Amounts keep their own direction inside right-to-left text ("You owe $90.00 by …").
    assert re.search(r"<strong><bdi>[^<]*\d[.,٫]\d\d[^<]*</bdi></strong>", document.html)
    assert missing_glyphs(data) == []
    text = full_text(data)
    compact = "".join(text.split())
    for expected in (guarantor, street, description):
        assert "".join(expected.split()) in compact, expected
    # The statement's own words are in its language, not English.
    with app.test_request_context(), force_locale(locale):
        headings = [str(gettext(text)) for text in ("How to pay", "Why do I owe this?")]
    if locale != "en":
        assert "How to pay" not in text and "Why do I owe this?" not in text
    for heading in headings:
        assert "".join(heading.split()) in compact, heading


def test_the_glyph_check_finds_a_character_no_font_has(app):
    import weasyprint

    data = weasyprint.HTML(string="<p>Ivan \U000F0001</p>").write_pdf()
    assert missing_glyphs(data)


# --- The cache -----------------------------------------------------------------------------------------------

def test_a_second_download_comes_from_the_cache_until_the_statement_changes(app, client, make, login_as,
                                                                           download):
    account = make.account()
    statement = make.statement(account, lines=2)
    login_as(make.user(accounts=[account]))
    first = download(statement.number)
    second = download(statement.number)
    assert first.get_data() == second.get_data()
    assert first.headers["ETag"] == second.headers["ETag"]
    unchanged = client.get(f"/statements/{statement.number}/pdf",
                           headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304
    files = os.listdir(os.path.dirname(cache.path_for(statement.number, "en", "0")))
    assert len([name for name in files if name.startswith(statement.number)]) == 1

    make.payment(statement, 2500)
    paid = download(statement.number)
    assert paid.headers["ETag"] != first.headers["ETag"]
    assert "Payments received $25.00" in full_text(paid.get_data())

    line = db.session.get(LineItem, statement.visits[0].lines[0].id)
    line.adjustment, line.insurance_paid = line.adjustment + 1000, line.insurance_paid - 1000
    db.session.commit()
    corrected = download(statement.number)
    assert corrected.headers["ETag"] not in (first.headers["ETag"], paid.headers["ETag"])
    files = os.listdir(os.path.dirname(cache.path_for(statement.number, "en", "0")))
    assert len([name for name in files if name.startswith(statement.number)]) == 1


def test_the_version_changes_with_each_thing_the_pdf_shows(app, make, glossary):
    statement = make.statement(lines=1)
    with app.test_request_context(base_url="http://localhost"):
        def version() -> str:
            return services.content_version(db.session.get(Statement, statement.id), "en")

        seen = [version()]
        assert version() == seen[0]
        changes = [
            lambda s: setattr(s.account, "mailing_address", "3 New Road\nTestville"),
            lambda s: setattr(s.account, "guarantor_name", "Alexandra Guarantor"),
            lambda s: setattr(s.account.organisation, "name", "Test General Hospital North"),
            lambda s: setattr(s.visits[0].patient, "given_name", "Alexandra"),
            lambda s: setattr(s.visits[0].lines[0], "description", "TEST SERVICE RENAMED"),
            lambda s: db.session.add(Payment(statement=s, amount=1000, currency="USD", status="succeeded")),
            lambda s: setattr(Payment.query.filter_by(statement_id=s.id).one(), "amount_refunded", 400),
            # The glossary and the dictionary change through their loaders, which say so (content_changed).
            lambda s: (setattr(GlossaryTerm.query.filter_by(locale="en", slug="deductible").one(),
                               "short_definition", "What you pay before your plan pays."), content_changed()),
            lambda s: (db.session.add(ServiceDescription(source="local", locale="en", code_system="cpt",
                                                         code_first="99200", code_last="99209",
                                                         name="Test visit", explanation="A visit in tests.")),
                       content_changed()),
            lambda s: setattr(s.account.organisation, "phone", "+1 555-0199"),
            lambda s: setattr(s, "due_date", s.due_date + timedelta(days=7)),
            lambda s: setattr(s.visits[0], "provider", "Dr. Other"),
            lambda s: setattr(s.visits[0].lines[0], "quantity", 2),
        ]
        for change in changes:
            change(db.session.get(Statement, statement.id))
            db.session.commit()
            seen.append(version())
        # An overdue statement says so: the day after its due date is a new version.
        later = services.content_version(db.session.get(Statement, statement.id), "en",
                                         now=_moment(statement.due_date + timedelta(days=1)))
        seen.append(later)
        # Another language is another PDF.
        seen.append(services.content_version(db.session.get(Statement, statement.id), "es"))
    assert len(set(seen)) == len(seen)


def _moment(day: date):
    from datetime import datetime, timezone

    return datetime(day.year, day.month, day.day, 18, tzinfo=timezone.utc)


def test_downloads_and_runs_print_the_public_address_and_share_the_cache(app, client, runner, household, login_as,
                                                                       download, tmp_path):
    user, statement = household
    login_as(user)
    app.config["PUBLIC_URL"] = "https://billing.example.org/"
    result = runner.invoke(args=["statements", "render", statement.number, "--out", str(tmp_path / "run"),
                                 "--jobs", "1"])
    assert "1 printed, 0 from the cache" in result.output
    response = download(statement.number)
    text = full_text(response.get_data())
    assert "https://billing.example.org/ and choose" in text and "http://localhost" not in text
    assert response.get_data() == (tmp_path / "run" / f"statement-{statement.number}-en.pdf").read_bytes()


def test_the_printer_fetches_nothing_but_inline_images(app):
    with app.app_context():
        fetcher = pdf._printer().fetcher
        for url in ("file:///etc/hostname", "FILE:///etc/hostname", "http://example.org/x.png",
                    f"file://{app.static_folder}/css/portal.css"):
            with pytest.raises(Exception):
                fetcher(url)
        assert fetcher("data:text/plain,hello")


def test_a_cache_that_cannot_be_written_still_gives_the_pdf(app, client, household, login_as, download, tmp_path):
    user, statement = household
    login_as(user)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    app.config["STATEMENT_PDF_CACHE_DIR"] = str(blocked)
    response = download(statement.number)
    assert response.status_code == 200
    assert f"Statement {statement.number}" in full_text(response.get_data())


def test_printing_concurrently_leaves_one_whole_file(app, make):
    statement = make.statement(lines=1)
    data = b"%PDF-1.7 test"
    for version in ("aaa", "bbb", "ccc"):
        path = cache.store(statement.number, "en", version, data + version.encode())
    folder = os.listdir(os.path.dirname(path))
    assert folder == [os.path.basename(path)]
    assert cache.read(statement.number, "en", "ccc") == data + b"ccc"
    assert cache.read(statement.number, "en", "aaa") is None
    with pytest.raises(ValueError):
        cache.path_for("../../etc", "en", "x")


# --- Statement runs -----------------------------------------------------------------------------------------

def test_a_run_reports_a_failing_statement_and_prints_the_rest(app, runner, make, tmp_path, monkeypatch):
    tmp_path = tmp_path / "run"
    good = [make.statement(lines=1), make.statement(lines=2)]
    broken = make.statement(lines=1)
    real_print = pdf.print_pdf

    def fragile(html: str) -> bytes:
        if f"Statement {broken.number}" in html:
            raise RuntimeError("the printer ran out of paper")
        return real_print(html)

    monkeypatch.setattr(pdf, "print_pdf", fragile)
    numbers = [good[0].number, broken.number, "123", good[1].number]
    result = runner.invoke(args=["statements", "render", *numbers, "--out", str(tmp_path), "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert "4 statements in" in result.output and "2 printed, 0 from the cache, 2 failed." in result.output
    assert f"FAILED {broken.number}: RuntimeError: the printer ran out of paper" in result.output
    assert "FAILED 123: no such statement" in result.output
    written = sorted(os.listdir(tmp_path))
    assert written == sorted(f"statement-{s.number}-en.pdf" for s in good)
    for name in written:
        assert (tmp_path / name).read_bytes().startswith(b"%PDF-")


def test_a_run_on_several_processes_prints_every_statement(app, runner, make, tmp_path):
    tmp_path = tmp_path / "run"
    statements = [make.statement(lines=n) for n in (1, 2, 3)]
    result = runner.invoke(args=["statements", "render", "--all", "--out", str(tmp_path), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "3 statements in" in result.output and "3 printed, 0 from the cache, 0 failed." in result.output
    for statement in statements:
        text = full_text((tmp_path / f"statement-{statement.number}-en.pdf").read_bytes())
        assert f"Statement {statement.number}" in text
        # Printed outside any request: the quick-pay address is the configured public one.
        assert "http://localhost:5000/" in text
    again = runner.invoke(args=["statements", "render", "--all", "--out", str(tmp_path), "--jobs", "1"])
    assert "0 printed, 3 from the cache, 0 failed." in again.output


def test_a_run_needs_numbers_or_all(runner, tmp_path):
    result = runner.invoke(args=["statements", "render", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Give statement numbers or --all" in result.output


def test_the_household_s_named_contact_is_printed_once_they_have_one(client, make, household, login_as, download):
    from portal.questions import services as questions
    from portal.questions.models import StaffProfile

    user, statement = household
    login_as(user)
    before = download(statement.number)
    assert "Your contact in the billing office" not in full_text(before.get_data())
    db.session.add(StaffProfile(user=make.user("maria@example.org", role="staff"), display_name="Maria Santos",
                                job_title="Billing specialist", languages=["en", "es"], topics=["charges"]))
    questions.ask(statement, None, questions.NewQuestion("charges", "Why?", "en", "email", "pat@example.org"),
                  user=user)
    db.session.commit()
    after = download(statement.number)
    # A new contact is a new version of the statement's PDF.
    assert after.headers["ETag"] != before.headers["ETag"]
    text = " ".join(full_text(after.get_data()).split())
    assert "Your contact in the billing office is Maria Santos, Billing specialist, who speaks English and Español." in text
