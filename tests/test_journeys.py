"""What patients and the billing office do, done with the keyboard alone in a real browser.

Each journey runs in English, Spanish and Arabic, at a 360x740 phone and at 1280x800, in Debian's Chromium
against the portal on a live server with the demo hospital and the local Stripe stand-in. Nothing is clicked:
Tab, Shift+Tab, Enter, Space, the arrow keys and Escape do everything, each Tab stop must show where the focus
is, and the first Tab on a page reaches the skip link. The journeys check what a screen reader would say when
something changes (a payment processing, a question sent), that no step scrolls sideways even with its text
at 200% or breaks a WCAG 2.0/2.1 A or AA rule that axe-core checks, and save a
screenshot of every step under ``tests/screenshots/<locale>/`` (git-ignored) for people to look at.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from .browser import (CHROMIUM, DESKTOP, FOCUS_SHOWN, PHONE, axe_violations, chromium, overflow_at_large_text,
                      tab_to)

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (no browser is downloaded)",
                allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from portal.auth.models import User  # noqa: E402
from portal.billing.models import Statement  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.payments.models import Payment  # noqa: E402
from portal.questions.models import Assignment, Question, QuestionMessage, StaffProfile  # noqa: E402

from .payflow import GOOD_CARD, NEEDS_3DS  # noqa: E402

TIMEOUT_MS = 20_000
SCREENSHOTS = Path(__file__).parent / "screenshots"
SIZES = {"phone": PHONE, "desktop": DESKTOP}
COMBINATIONS = [(locale, size) for locale in ("en", "es", "ar") for size in SIZES]
IDS = [f"{locale}-{size}" for locale, size in COMBINATIONS]
every_language_and_size = pytest.mark.parametrize("locale, size", COMBINATIONS, ids=IDS)

# Text that a live region receives after the page has loaded: what a screen reader announces. Text already in
# a region when the page loads is not announced, so those pages move the focus to it instead (see spoken()).
_LISTEN = """() => {
  window.__announced = [];
  const listen = () => new MutationObserver(records => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const region = node && node.closest('[aria-live], [role=status], [role=alert]');
      const text = region && region.textContent.trim();
      if (text && window.__announced.at(-1) !== text) window.__announced.push(text);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', listen) : listen();
}"""

_FOCUSED_MESSAGE = """() => { const region = document.activeElement.closest('[role=status], [role=alert]');
  return region ? region.textContent.trim() : ''; }"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


class Journey:
    """One person's browser, used with the keyboard alone, that screenshots and checks each step."""

    def __init__(self, browser, server, locale: str, size: str, name: str,  # noqa: ANN001 (a browser, a server)
                 browser_language: str | None = None) -> None:
        self.locale, self.size, self.name, self.steps = locale, size, name, 0
        self.viewport = SIZES[size]
        self.context = browser.new_context(viewport=self.viewport, base_url=server.url,
                                           locale=browser_language or "en-US", accept_downloads=True)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.add_init_script(f"({_LISTEN})()")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))

    # ---------------------------------------------------------------------------------------------- keys

    def tab_to(self, selector: str, backwards: bool = False) -> None:
        tab_to(self.page, selector, backwards=backwards)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def follow(self, selector: str, to: str, backwards: bool = False) -> None:
        """Tab to a link or button and press Enter; wait until the browser is at a path matching ``to``."""
        self.tab_to(selector, backwards=backwards)
        self.enter_to(to)

    def enter_to(self, to: str) -> None:
        """Press Enter on a link or a form and wait for the page it leads to, whose path must match ``to``."""
        with self.page.expect_navigation():
            self.press("Enter")
        self.page.wait_for_load_state()
        path = "/" + self.page.url.split("/", 3)[-1]
        assert re.fullmatch(f"{to}(#main)?", path), self.where(f"expected {to}")

    def fill(self, values: dict[str, str]) -> None:
        """Tab to each field in turn (unless the last one moved the focus there itself) and type into it."""
        for selector, text in values.items():
            if not self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                self.tab_to(selector)
            self.type(text)

    def type_card(self, number: str) -> None:
        """Type a card into the stand-in's inputs, which take the place of Stripe's card frame and, like it,
        move to the next input when one is complete."""
        self.page.locator("#card-element input").first.wait_for()
        self.fill({f'#card-element input[placeholder="{field}"]': value for field, value in (
            ("number", number), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123"), ("postal_code", "12345"))})

    def start(self, path: str) -> None:
        """Open the journey's first page, as a typed address or a bookmark would, and check the skip link."""
        self.page.goto(path)
        self.press("Tab")
        assert self.page.evaluate("document.activeElement.classList.contains('skip-link')"), self.where("skip link")
        assert self.page.evaluate(FOCUS_SHOWN)
        self.press("Enter")
        assert self.page.evaluate("document.activeElement.id") == "main"

    def choose_language(self) -> None:
        """The switcher in the header: arrow keys through the list to the journey's language, then its button."""
        if self.page.evaluate("document.documentElement.lang") == self.locale:
            return
        self.tab_to("#language-choice", backwards=True)
        choice = "document.getElementById('language-choice')"
        codes = self.page.evaluate(f"[...{choice}.options].map(o => o.value)")
        moves = codes.index(self.locale) - self.page.evaluate(f"{choice}.selectedIndex")
        for _ in range(abs(moves)):
            self.press("ArrowDown" if moves > 0 else "ArrowUp")
        assert self.page.evaluate(f"{choice}.value") == self.locale
        self.tab_to(".language-form button")
        with self.page.expect_navigation():
            self.press("Enter")
        assert self.page.evaluate("document.documentElement.lang") == self.locale
        assert self.page.evaluate("document.documentElement.dir") == ("rtl" if self.locale == "ar" else "ltr")

    def sign_in(self, email: str, password: str) -> None:
        self.start("/login")
        self.fill({"#email": email, "#password": password})
        self.press("Enter")
        self.page.wait_for_url(lambda url: "/login" not in url)
        self.choose_language()

    # ---------------------------------------------------------------------------------------------- checks

    def where(self, what: str) -> str:
        return f"{self.locale} {self.size} {self.name} step {self.steps} ({what}) at {self.page.url}"

    def step(self, label: str) -> None:
        """A step done: the page fits the screen's width; its picture is saved for people to look at."""
        self.steps += 1
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.viewport["width"], self.where(f"{label}: {width} px wide")
        overflow = overflow_at_large_text(self.page, self.viewport["width"])
        assert not overflow, self.where(f"{label}: {overflow}")
        violations = axe_violations(self.page)
        assert not violations, self.where(label) + ":\n" + "\n".join(violations)
        name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        shot = SCREENSHOTS / self.locale / f"journey-{self.name}-{self.steps:02d}-{name}-{self.size}.png"
        self.page.screenshot(path=shot, full_page=True)

    def spoken(self) -> str:
        """The message a screen reader reads as this page opens: the status or alert region holding the focus."""
        # The browser moves the focus to an ``autofocus`` element a moment after the page loads.
        try:
            self.page.wait_for_function(_FOCUSED_MESSAGE, timeout=3_000)
        except PlaywrightTimeout:
            return ""
        return self.page.evaluate(_FOCUSED_MESSAGE)

    def announced(self) -> list[str]:
        """What live regions announced on this page since it loaded, oldest first."""
        return self.page.evaluate("window.__announced")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture
def journeys(browser, demo_server):
    """Make journeys on the demo portal; they are closed (and their script errors reported) at the end."""
    made: list[Journey] = []

    def make(locale: str, size: str, name: str, **kwargs) -> Journey:
        made.append(Journey(browser, demo_server, locale, size, name, **kwargs))
        return made[-1]

    yield make
    for journey in made:
        journey.close()


def fresh(query):  # noqa: ANN001, ANN201 (a select, its rows)
    """Rows as the live server committed them: end this test's own transaction first."""
    db.session.rollback()
    return db.session.scalars(query).all()


# ---------------------------------------------------------------------------------------------------- journeys

@every_language_and_size
def test_a_guest_chooses_a_language_finds_a_bill_and_pays_it(journeys, locale, size):
    # The browser asks for Bulgarian: the guest picks their own language with the switcher.
    guest = journeys(locale, size, "guest", browser_language="bg-BG")
    guest.start("/quick-pay")
    assert guest.page.evaluate("document.documentElement.lang") == "bg"
    guest.choose_language()
    guest.step("quick pay")
    guest.fill({"#statement_number": "400100017", "#date_of_birth": "1984-03-27"})
    guest.enter_to("/statements/400100017")
    assert guest.page.evaluate("document.documentElement.lang") == locale
    # The amount due and the pay button are on the first screen.
    box = guest.page.locator(".pay-button").bounding_box()
    assert box is not None and box["y"] + box["height"] <= guest.viewport["height"], guest.where("pay button")
    guest.step("statement")
    guest.follow(".pay-button", "/statements/400100017/pay")
    guest.step("pay form")
    # The full amount is chosen already; a receipt by email is offered.
    guest.fill({"#receipt_email": "jordan@example.org"})
    guest.tab_to("main form button[type=submit]")
    guest.enter_to("/payments/[^/]+/card")
    guest.type_card(GOOD_CARD)
    guest.tab_to("#pay-button")
    guest.press("Enter")
    guest.page.wait_for_url(re.compile(r"/payments/[^/]+$"))
    guest.page.locator("dl.receipt").wait_for()
    assert guest.spoken(), guest.where("receipt not announced")
    guest.step("receipt")
    statement = fresh(select(Statement).where(Statement.number == "400100017"))[0]
    paid = fresh(select(Payment).where(Payment.statement_id == statement.id, Payment.status == "succeeded"))
    assert [payment.receipt_email for payment in paid] == ["jordan@example.org"]


@every_language_and_size
def test_a_patient_signs_in_and_reads_a_term_in_place(journeys, locale, size):
    patient = journeys(locale, size, "reading")
    patient.sign_in("patient@example.org", "demo-patient-1")
    patient.step("bills")
    patient.follow('a[href="/statements/400100017"]', "/statements/400100017")
    patient.step("statement")
    # A billing term opens its definition in place with Enter, and Escape closes it again.
    patient.tab_to("button.term")
    definition = patient.page.evaluate("document.activeElement.getAttribute('popovertarget')")
    is_open = "(id) => document.getElementById(id).matches(':popover-open')"
    patient.press("Enter")
    assert patient.page.evaluate(is_open, definition), patient.where("term")
    box = patient.page.locator(f"#{definition}").bounding_box()
    assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= patient.viewport["width"]
    patient.step("term open")
    patient.press("Escape")
    assert not patient.page.evaluate(is_open, definition)
    assert patient.page.evaluate("document.activeElement.getAttribute('popovertarget')") == definition


@every_language_and_size
def test_a_new_patient_registers_pays_part_and_downloads_the_pdf(journeys, locale, size):
    number = "400100074"  # Layla Haddad's bill; the demo gives her household no login
    patient = journeys(locale, size, "register-and-pay")
    patient.start("/login")
    patient.choose_language()
    patient.follow('nav a[href="/register"]', "/register", backwards=True)
    patient.fill({"#statement_number": number, "#date_of_birth": "1991-01-18", "#last_name": "Haddad"})
    patient.step("claim a bill")
    patient.enter_to("/register/login")
    patient.fill({"#email": "layla@example.org", "#password": "four words she remembers",
                  "#confirm": "four words she remembers"})
    patient.step("choose a login")
    patient.enter_to("/statements")
    assert patient.spoken(), patient.where("the login made is not announced")
    patient.step("bills")

    patient.follow(f'a[href="/statements/{number}"]', f"/statements/{number}")
    patient.follow(".pay-button", f"/statements/{number}/pay")
    # The full amount is chosen; the arrow key moves to "another amount", whose field comes next.
    patient.tab_to("#choice-full")
    patient.press("ArrowDown")
    assert patient.page.evaluate("document.activeElement.id") == "choice-other"
    patient.fill({"#other_amount": "10"})
    patient.step("pay part")
    patient.enter_to("/payments/[^/]+/card")

    patient.type_card(GOOD_CARD)
    patient.step("card")
    patient.tab_to("#pay-button")
    patient.press("Enter")
    patient.page.wait_for_url(re.compile(r"/payments/[^/]+$"))
    patient.page.locator("dl.receipt").wait_for()
    # The receipt's first words are read out as it opens.
    assert "10" in patient.spoken(), patient.where("receipt not announced")
    patient.step("receipt")
    statement = fresh(select(Statement).where(Statement.number == number))[0]
    assert [(p.amount, p.status) for p in fresh(select(Payment).where(Payment.statement_id == statement.id))] \
        == [(1000, "succeeded")]

    patient.follow(f'main a[href="/statements/{number}"]', f"/statements/{number}")
    patient.tab_to("a[download]")
    with patient.page.expect_download() as download:
        patient.press("Enter")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-"), patient.where("download")
    assert download.value.suggested_filename.endswith(".pdf")
    patient.step("statement after paying")


@every_language_and_size
def test_paying_says_it_is_processing_through_a_live_region(journeys, locale, size):
    patient = journeys(locale, size, "processing")
    patient.sign_in("patient@example.org", "demo-patient-1")
    patient.start("/statements/400100017/pay")
    patient.tab_to("main button[type=submit]")
    patient.enter_to("/payments/[^/]+/card")
    processing = patient.page.locator("#card-form").get_attribute("data-text-processing")
    # A card that asks for 3-D Secure stops at the bank's window, so the page stays while it is processing.
    patient.type_card(NEEDS_3DS)
    patient.tab_to("#pay-button")
    patient.press("Enter")
    patient.page.wait_for_function("(text) => window.__announced.includes(text)", arg=processing)
    patient.step("processing")


@every_language_and_size
def test_a_question_is_asked_answered_by_a_named_person_and_read(journeys, locale, size):
    patient = journeys(locale, size, "question")
    patient.sign_in("patient@example.org", "demo-patient-1")
    patient.start("/statements/400100017")
    patient.follow('main a[href="/statements/400100017/ask"]', "/statements/400100017/ask")
    # No topic is chosen yet: Tab reaches the first, Space chooses it.
    patient.tab_to('input[name="topic"]')
    patient.press("Space")
    assert patient.page.evaluate("document.activeElement.checked")
    words = {"en": "Is the X-ray on the 2nd the same one as on the 14th?",
             "es": "¿La radiografía del día 2 es la misma que la del 14?",
             "ar": "هل الأشعة في اليوم الثاني هي نفسها في اليوم الرابع عشر؟"}[locale]
    patient.fill({"#message": words})
    patient.step("question")
    patient.tab_to("main form button[type=submit]")
    patient.enter_to("/questions/[\\w-]+")
    assert patient.spoken(), patient.where("question sent is not announced")
    patient.step("question sent")

    question = fresh(select(Question).join(QuestionMessage).where(QuestionMessage.body == words))[0]
    staff = db.session.get(User, question.assigned_staff_id)
    assert question.language == locale
    office = journeys(locale, size, "answer")
    office.sign_in(staff.email, "demo-staff-1")
    office.follow('nav a[href="/staff"]', "/staff", backwards=True)
    office.step("inbox")
    office.follow(f'a[href="/staff/questions/{question.public_id}"]', f"/staff/questions/{question.public_id}")
    office.step("question with the bill")
    answer = {"en": "Yes: the first is the emergency visit, the second the follow-up. Both were needed.",
              "es": "Sí: la primera es de urgencias y la segunda del control. Las dos fueron necesarias.",
              "ar": "نعم: الأولى في زيارة الطوارئ والثانية في زيارة المتابعة. كلتاهما كانت ضرورية."}[locale]
    office.fill({"#reply-message": answer})
    office.tab_to(f'form[action="/staff/questions/{question.public_id}"] button[type=submit]')
    office.enter_to(f"/staff/questions/{question.public_id}")
    assert office.spoken(), office.where("reply sent is not announced")
    office.step("answered")

    patient.page.reload()
    body = patient.page.locator(".message-staff .message-body")
    assert body.inner_text() == answer
    patient.step("reply read")


@every_language_and_size
def test_a_supervisor_reassigns_a_question(journeys, locale, size):
    supervisor = journeys(locale, size, "reassign")
    supervisor.sign_in("supervisor@example.org", "demo-supervisor-1")
    supervisor.follow('nav a[href="/staff"]', "/staff", backwards=True)
    supervisor.follow('main a[href="/staff?scope=all"]', r"/staff\?scope=all")
    supervisor.step("everyone's questions")
    question = fresh(select(Question).join(Statement).where(Statement.number == "400100025"))[0]
    before = question.assigned_staff_id
    supervisor.follow(f'a[href="/staff/questions/{question.public_id}"]', f"/staff/questions/{question.public_id}")
    supervisor.tab_to("#reassign-staff")
    supervisor.press("ArrowDown")
    chosen = int(supervisor.page.evaluate("document.activeElement.value"))
    supervisor.fill({"#reassign-reason": {"en": "Maria is away this week.", "es": "María está fuera esta semana.",
                                 "ar": "ماريا غائبة هذا الأسبوع."}[locale]})
    supervisor.step("reassign")
    supervisor.tab_to('form[action$="/reassign"] button[type=submit]')
    supervisor.enter_to(f"/staff/questions/{question.public_id}")
    name = db.session.get(StaffProfile, chosen).display_name
    assert name in supervisor.spoken(), supervisor.where("reassignment not announced")
    supervisor.step("reassigned")
    assert chosen != before
    assert fresh(select(Question.assigned_staff_id).where(Question.id == question.id)) == [chosen]
    reasons = fresh(select(Assignment.note).where(Assignment.question_id == question.id,
                                                  Assignment.staff_user_id == chosen))
    assert len(reasons) == 1 and reasons[0]
