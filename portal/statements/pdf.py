"""Statements as PDF: ``templates/statements/pdf.html`` in the statement's language, printed by WeasyPrint.

Only this module imports WeasyPrint. The document is tagged (PDF/UA-1) so that screen readers read it in
order, and it may fetch nothing but ``data:`` images (the stylesheet is read from disk): a name or address
on a bill can never make the renderer open a file or a URL.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime

import babel
import segno
import weasyprint
from flask import current_app, render_template, url_for
from flask_babel import force_locale
from markupsafe import Markup
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from ..billing.models import Statement
from ..billing.rows import AmountRows
from ..billing.services import StatementPage, statement_page
from ..glossary.markup import TermIndex, TermMarker
from ..glossary.models import GlossaryTerm
from ..glossary.services import term_index
from ..i18n import _
from ..questions.services import account_contact

# PDF/UA-1 makes WeasyPrint tag the structure (headings, tables, lists, links) and declare the language.
PDF_VARIANT = "pdf/ua-1"
STYLESHEET = os.path.join("css", "statement-pdf.css")


@dataclass(frozen=True)
class StatementDocument:
    """A statement as print-ready HTML in one language."""

    html: str
    locale: str
    title: str


def _fetcher() -> URLFetcher:
    # Only data: URLs (the QR code). The stylesheet is read from its file directly, so nothing on a bill, a
    # name or an address, can make WeasyPrint open a file or a URL.
    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False)


class _Printer:
    """One thread's WeasyPrint state, reused for every statement it prints.

    Loading fonts and parsing the stylesheet cost more than laying out a short statement, and neither
    depends on the statement, so each thread does them once. WeasyPrint objects are not shared between
    threads.
    """

    def __init__(self, static_folder: str) -> None:
        self.fetcher = _fetcher()
        self.fonts = FontConfiguration()
        path = os.path.join(static_folder, STYLESHEET)
        self.stylesheet = weasyprint.CSS(filename=path, font_config=self.fonts, url_fetcher=self.fetcher)
        self.base_url = "file://" + os.path.realpath(static_folder) + os.sep

    def print(self, html: str) -> bytes:
        document = weasyprint.HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher)
        return document.write_pdf(stylesheets=[self.stylesheet], font_config=self.fonts,
                                  pdf_variant=PDF_VARIANT, uncompressed_pdf=False)


_local = threading.local()


def _printer() -> _Printer:
    static_folder = current_app.static_folder
    printer = getattr(_local, "printer", None)
    if printer is None or getattr(_local, "static_folder", None) != static_folder:
        printer = _Printer(static_folder)
        _local.printer, _local.static_folder = printer, static_folder
    return printer


def print_pdf(html: str) -> bytes:
    """Lay out ``html`` (from :func:`statement_document`) and return the PDF's bytes."""
    return _printer().print(html)


# What the printed words and layout come from besides the database: when any of these change (a new
# release, a reworded explanation, a new translation), every statement is printed afresh.
_RENDERER_SOURCES = ("statements/pdf.py", "statements/services.py", "billing/services.py", "billing/models.py",
                     "billing/views.py", "glossary/services.py", "glossary/why.py", "glossary/markup.py",
                     "money.py", "i18n.py")


def renderer_fingerprint(locale: str) -> str:
    """A digest of the template, stylesheet, code, catalog and WeasyPrint release that print ``locale``."""
    cache = current_app.extensions.setdefault("statement_pdf_fingerprints", {})
    if locale not in cache:
        digest = hashlib.sha256(f"{weasyprint.__version__}\n{babel.__version__}\n{PDF_VARIANT}\n".encode())
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        catalog_dirs = current_app.config.get("BABEL_TRANSLATION_DIRECTORIES", "").split(";")
        paths = [os.path.join(current_app.static_folder, STYLESHEET),
                 os.path.join(current_app.template_folder, "statements", "pdf.html"),
                 *(os.path.join(package, name) for name in _RENDERER_SOURCES),
                 *(os.path.join(folder, locale, "LC_MESSAGES", "messages.mo") for folder in catalog_dirs if folder)]
        for path in paths:
            if os.path.exists(path):
                with open(path, "rb") as source:
                    digest.update(os.path.basename(path).encode() + b"\0" + source.read())
        cache[locale] = digest.hexdigest()
    return cache[locale]


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def css_content(message: str, counters: dict[str, str]) -> Markup:
    """Turn a translated message such as ``Page %(page)s of %(pages)s`` into a CSS ``content`` value.

    Placeholders become CSS counters (``counter(page)``); the text around them becomes CSS strings,
    so that page numbers follow each language's own word order.
    """
    parts = []
    for i, piece in enumerate(_PLACEHOLDER.split(message)):
        if i % 2:
            parts.append(counters[piece])
        elif piece:
            escaped = piece.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            parts.append(f'"{escaped}"')
    return Markup(" ".join(parts) or '""')


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, safe inside a ``<style>`` element."""
    cleaned = " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return Markup(f'"{cleaned}"')


class _PrintMarker(TermMarker):
    """Marks a glossary term's first use with a link to its entry in the appendix, and remembers it."""

    def __init__(self, index: TermIndex) -> None:
        super().__init__(index, self._link)
        self.terms = {term.slug: term for term in index.terms}

    @staticmethod
    def _link(term: GlossaryTerm, text: str, element_id: str) -> str:
        return Markup('<a class="term" href="#glossary-{slug}">{text}</a>').format(slug=term.slug, text=text)

    def used(self) -> list[GlossaryTerm]:
        """The terms marked so far, in the glossary's alphabetical order."""
        marked = self.marked
        return [term for slug, term in self.terms.items() if slug in marked]


@functools.lru_cache(maxsize=256)
def printed_urls(number: str) -> tuple[str, str]:
    """The portal's address and statement ``number``'s quick-pay address, as printed on paper.

    From PUBLIC_URL when it is set, so that every download and every statement run prints the same
    addresses (and shares one cached PDF) whatever host name or scheme the request came in on.
    """
    public = current_app.config["PUBLIC_URL"]
    if public:
        base = public.rstrip("/")
        return base + url_for("billing.home"), base + url_for("auth.quick_pay", statement=number)
    return url_for("billing.home", _external=True), url_for("auth.quick_pay", statement=number, _external=True)


def quick_pay_qr(url: str) -> str:
    """A QR code of ``url`` as an SVG data URL: scanning it opens quick pay with the number filled in."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#000", light="#fff")


def statement_document(statement: Statement, locale: str, *, note: str | None = None,
                       now: datetime | None = None, itemised: bool = False) -> StatementDocument:
    """Render ``statement`` as print HTML in ``locale``; ``note`` is printed at the top when given.

    ``itemised`` prints the itemised bill a patient asks for: every line with its code and the hospital's own
    description, and every amount of it (allowed, insurance paid, adjustment, each part of the patient's share).
    Needs a request context whose address is the portal's public one: the PDF prints links to it.
    """
    with force_locale(locale):
        page: StatementPage = statement_page(statement, locale, now)
        marker = _PrintMarker(term_index(locale))
        portal_url, quick_pay_url = printed_urls(statement.number)
        title = (_("Itemised bill %(number)s", number=statement.number) if itemised
                 else _("Statement %(number)s", number=statement.number))
        html = render_template(
            "statements/pdf.html", page=page, summary=page.summary, statement=statement,
            organisation=statement.account.organisation, account=statement.account, terms=marker,
            contact=account_contact(statement.account_id),
            note=note, title=title, locale=locale,
            portal_url=portal_url, quick_pay_url=quick_pay_url,
            quick_pay_qr=quick_pay_qr(quick_pay_url),
            page_size=current_app.config["STATEMENT_PDF_PAGE_SIZE"],
            page_numbers=css_content(_("Page %(page)s of %(pages)s"),
                                     {"page": "counter(page)", "pages": "counter(pages)"}),
            css_string=css_string, itemised=itemised,
            amount_rows=AmountRows(statement.currency) if itemised else None)
    return StatementDocument(html=html, locale=locale, title=title)
