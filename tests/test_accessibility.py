"""WCAG 2.1 A and AA, checked by axe-core in a real browser on every page type, in every language.

axe-core comes bundled with the axe-playwright-python package (no network). The portal runs on a live server
with the demo hospital; each language's run opens the pages a guest, a patient and the billing office see,
including forms showing their errors, and fails listing every violation with its rule, element and page. The
same run measures that no page scrolls sideways, even with its text at 200%, that every button on a 360 px phone
is at least 44 by 44 CSS px, and saves a screenshot of each page in English, Spanish and Arabic under ``tests/screenshots/``
(git-ignored) for people to look at.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from .browser import CHROMIUM, DESKTOP, PHONE, axe_violations, chromium, overflow_at_large_text

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (no browser is downloaded)",
                allow_module_level=True)


from portal.config import DEFAULTS  # noqa: E402

LOCALES = DEFAULTS["SUPPORTED_LOCALES"]
TIMEOUT_MS = 20_000
SCREENSHOTS = Path(__file__).parent / "screenshots"
PICTURED = ("en", "es", "ar")
# The controls a patient taps: WCAG 2.5.5's 44 by 44 CSS px. Glossary terms are buttons inside sentences,
# inline targets the criterion exempts; links within text likewise.
TAP_TARGETS = "main button, main .button, main input[type=submit], main select, main input[type=text], " \
              "main input[type=email], main input[type=password], main textarea"
_TOO_SMALL = """(selector) => [...document.querySelectorAll(selector)]
  .filter(e => e.offsetParent !== null && !e.classList.contains('term'))
  .map(e => [e.getBoundingClientRect(), e]).filter(([r]) => r.width < 44 || r.height < 44)
  .map(([r, e]) => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className.split(' ').join('.') : ''} `
                   + `"${(e.textContent || e.name || '').trim().slice(0, 30)}" `
                   + `${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


_COLOUR_ONLY = """() => [...document.querySelectorAll('.status, .overdue')]
  .filter(e => e.offsetParent !== null && !e.innerText.trim()).map(e => e.outerHTML.slice(0, 80))"""


class Audit:
    """Opens pages in one browser profile, runs axe on each and keeps what it finds."""

    def __init__(self, browser, base_url: str, locale: str, problems: list[str],  # noqa: ANN001 (a browser)
                 who: str = "patient", viewport: dict = PHONE) -> None:
        self.viewport, self.size = viewport, "phone" if viewport is PHONE else "desktop"
        self.context = browser.new_context(viewport=viewport, base_url=base_url, locale=locale.replace("_", "-"))
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.locale = locale
        self.problems = problems
        self.shots, self.who = 0, who

    def check(self, label: str) -> None:
        """Audit the page as it is now (after a navigation or a form sent with errors)."""
        page = self.page
        where = f"{self.locale} {self.size} {label} ({page.url.split('/', 3)[-1] or '/'})"
        self.problems.extend(f"{where}: {violation}" for violation in axe_violations(page))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > self.viewport["width"]:
            self.problems.append(f"{where}: scrolls sideways ({width} px wide)")
        if self.viewport is PHONE:
            for target in page.evaluate(_TOO_SMALL, TAP_TARGETS):
                self.problems.append(f"{where}: a control smaller than 44x44 px: {target}")
        self.check_large_text(where)
        # WCAG 1.4.1: a status (due, overdue, paid) or an overdue question is said in words, never by colour alone.
        for element in page.evaluate(_COLOUR_ONLY):
            self.problems.append(f"{where}: a status shown by colour alone: {element}")
        if self.locale in PICTURED:
            self.shots += 1
            name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "home"
            shot = SCREENSHOTS / self.locale / f"{self.who}-{self.shots:02d}-{name}-{self.size}.png"
            page.screenshot(path=shot, full_page=True)

    def check_large_text(self, where: str) -> None:
        """WCAG 1.4.4: with text at 200% nothing is lost, and the page still fits the screen's width."""
        overflow = overflow_at_large_text(self.page, self.viewport["width"])
        if overflow:
            self.problems.append(f"{where}: {overflow}")

    def visit(self, path: str, label: str | None = None) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        self.check(label or path)

    def choose_language(self) -> None:
        if self.locale != "en":
            self.page.select_option("#language-choice", self.locale)
            self.page.locator(".language-form button").click()
            self.page.wait_for_load_state()

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto("/login")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.locator("main form button[type=submit]").click()
        self.page.wait_for_load_state()
        self.choose_language()

    def links(self, path: str, pattern: str) -> list[str]:
        self.page.goto(path)
        return sorted(set(re.findall(pattern, self.page.content())))

    def close(self) -> None:
        self.context.close()


_ERRORS_LINKED = """() => [...document.querySelectorAll('[aria-invalid="true"]')].filter(field => {
  const ids = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  return !ids.some(id => (document.getElementById(id)?.textContent || '').trim());
}).map(field => field.name || field.id)"""


def _sent_empty(audit: Audit, path: str, label: str) -> None:
    """Send a form with nothing filled in, to audit the page showing its errors: the error summary takes the
    focus (a screen reader reads it at once) and each field in error names its message."""
    audit.page.goto(path)
    audit.page.locator("main form button[type=submit]").first.click()
    audit.page.wait_for_load_state()
    audit.check(label)
    if not audit.page.evaluate("document.activeElement.classList.contains('error-summary')"):
        audit.problems.append(f"{audit.locale} {label}: the error summary does not take the focus")
    for field in audit.page.evaluate(_ERRORS_LINKED):
        audit.problems.append(f"{audit.locale} {label}: field {field} is marked invalid without a described error")


def _statement_above_the_fold(audit: Audit, number: str) -> int:
    """Check that a statement's pay button shows without scrolling (phone or desktop); return the page's weight in
    bytes as a browser gets it gzip-compressed (the page, its stylesheets and scripts; no Stripe.js here). Its
    text at 200% is checked with every other page's."""
    page = audit.page
    page.goto(f"/statements/{number}")
    box = page.locator(".pay-button").first.bounding_box() if page.locator(".pay-button").count() else None
    if box is not None and box["y"] + box["height"] > audit.viewport["height"]:
        audit.problems.append(f"{audit.locale} statement {number}: the pay button is below the fold "
                              f"({box['y'] + box['height']:.0f} px)")
    urls = [page.url] + page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    origin = page.url.split("/statements/")[0]
    weight = sum(len(gzip.compress(page.request.get(url).body())) for url in urls if url.startswith(origin))
    return weight


@pytest.mark.parametrize("locale, viewport", [*((locale, PHONE) for locale in LOCALES),
                                              ("en", DESKTOP), ("ar", DESKTOP)],
                         ids=[*(f"{locale}-phone" for locale in LOCALES), "en-desktop", "ar-desktop"])
def test_every_page_type_meets_wcag_a_and_aa(browser, demo_server, locale, viewport):
    problems: list[str] = []
    audit = Audit(browser, demo_server.url, locale, problems, viewport=viewport)
    try:
        audit.page.goto("/login")
        audit.choose_language()
        for path in ("/login", "/quick-pay", "/register", "/password/forgot", "/glossary", "/glossary?q=copay",
                     "/financial-assistance"):
            audit.visit(path)
        _sent_empty(audit, "/login", "sign-in errors")
        _sent_empty(audit, "/quick-pay", "quick-pay errors")
        _sent_empty(audit, "/register", "registration errors")
        # Registration's second step, reached by claiming a bill that has no login yet (Ivan Petrov's).
        audit.page.goto("/register")
        audit.page.fill("#statement_number", "400100041")
        audit.page.fill("#date_of_birth", "1958-06-30")
        audit.page.fill("#last_name", "Petrov")
        audit.page.locator("main form button[type=submit]").click()
        audit.page.wait_for_url(re.compile(r"/register/login$"))
        audit.check("choose a login")
        _sent_empty(audit, "/register/login", "choose a login errors")

        audit.sign_in("patient@example.org", "demo-patient-1")
        for path in ("/statements", "/payments", "/questions"):
            audit.visit(path)
        numbers = audit.links("/statements", r'href="/statements/(\d+)"')
        for number in numbers[:2]:
            audit.visit(f"/statements/{number}", "statement")
            audit.visit(f"/statements/{number}/ask", "question form")
            audit.visit(f"/statements/{number}/pay", "pay form")
        _sent_empty(audit, f"/statements/{numbers[0]}/ask", "question form errors")
        for path in audit.links(f"/statements/{numbers[0]}", r'href="(/statements/\d+/lines/\d+/dispute)"')[:1]:
            audit.visit(path, "dispute form")
            _sent_empty(audit, path, "dispute form errors")
        audit.visit(f"/statements/{numbers[0]}/financial-assistance", "financial assistance application")
        _sent_empty(audit, f"/statements/{numbers[0]}/financial-assistance", "financial assistance errors")
        weights = [_statement_above_the_fold(audit, number) for number in numbers]
        print(f"{locale} {audit.size}: a statement page weighs {max(weights) / 1024:.1f} KB compressed at most "
              f"({', '.join(f'{w / 1024:.1f}' for w in weights)} KB for the demo patient's statements)")
        if max(weights) > 100 * 1024:
            problems.append(f"{locale}: a statement page weighs {max(weights) / 1024:.1f} KB compressed (budget 100)")
        for path in audit.links("/questions", r'href="(/questions/[\w-]+)"')[:1]:
            audit.visit(path, "question thread")
        for path in audit.links("/payments", r'href="(/payments/[\w-]+)"')[:1]:
            audit.visit(path, "receipt")
        # The card page, reached by sending the pay form with the full amount chosen.
        audit.page.goto("/statements/400100017/pay")
        audit.page.locator("main form button[type=submit]").click()
        audit.page.wait_for_url(re.compile(r"/payments/[\w-]+/card$"))
        audit.page.locator("#card-element input").first.wait_for()
        audit.check("card details")
        audit.close()

        audit = Audit(browser, demo_server.url, locale, problems, who="office", viewport=viewport)
        audit.sign_in("supervisor@example.org", "demo-supervisor-1")
        for path in ("/staff", "/staff?scope=all", "/staff/dashboard", "/staff/statements"):
            audit.visit(path)
        for path in audit.links("/staff?scope=all", r'href="(/staff/questions/[\w-]+)"')[:1]:
            audit.visit(path, "staff question")
        # Wei Li's bill: a corrected dispute and an open one, and the open one's question with its decision form.
        audit.visit("/statements/400100066", "statement with disputes")
        for path in audit.links("/statements/400100066", r'href="(/staff/questions/[\w-]+)"')[-1:]:
            audit.visit(path, "dispute to decide")
            _sent_empty(audit, path, "dispute decision errors")
        for path in audit.links("/staff/dashboard", r'href="(/staff/roster/\d+)"')[:1]:
            audit.visit(path, "roster form")
        for path in ("/staff/payments/review", "/staff/statements?q=400090011", "/statements/400090011"):
            audit.visit(path)
        for path in audit.links("/statements/400090011", r'href="(/staff/payments/[\w-]+/refund)"')[:1]:
            audit.visit(path, "refund form")
            _sent_empty(audit, path, "refund form errors")
    finally:
        audit.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_audit_sees_a_violation_when_there_is_one(browser):
    # A check that always passes proves nothing: the same rules on a form with an unlabelled field and a
    # low-contrast line must fail.
    page = browser.new_page()
    try:
        page.set_content('<html lang="en"><head><title>t</title></head><body><main><form><input type="text">'
                         '</form><p style="color:#bbb;background:#fff">faint</p></main></body></html>')
        found = {violation.split(" ")[0] for violation in axe_violations(page)}
    finally:
        page.close()
    assert {"label", "color-contrast"} <= found
