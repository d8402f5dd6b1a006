"""Debian's Chromium, driven by Playwright, for the tests that need a real browser (never a downloaded one)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser for the length of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# The focus is somewhere and drawn: an outline or the ring our stylesheet draws with a box shadow.
FOCUS_SHOWN = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return e !== document.body && (s.outlineStyle !== 'none' && s.outlineWidth !== '0px' || s.boxShadow !== 'none'); }"""


def tab_to(page, selector: str, limit: int = 60, backwards: bool = False) -> None:  # noqa: ANN001 (a page)
    """Press Tab (or Shift+Tab) until ``selector`` has the focus, checking that each stop shows the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        # Past the page's last stop the focus leaves for the browser's own controls, then comes round again. An
        # element out of the Tab order (tabindex="-1": <main>, the target of "#main" after signing in) was given
        # the focus by the page or the browser, not by this key: the browser focuses a URL's #main target once
        # the page has loaded, which can come after the first key press.
        if page.evaluate("document.activeElement === document.body || document.activeElement.tabIndex < 0"):
            continue
        assert page.evaluate(FOCUS_SHOWN), page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took the focus in {limit} presses of {key}")


# The innermost elements sticking out of the screen's sides: what makes a page wider than the screen.
_WIDEST = """() => [...document.querySelectorAll('main *')].filter(e => {
  const r = e.getBoundingClientRect(); return r.right > innerWidth + 1 || r.left < -1; })
  .filter(e => ![...e.children].some(c => { const r = c.getBoundingClientRect();
                                            return r.right > innerWidth + 1 || r.left < -1; }))
  .slice(0, 4).map(e => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 25)}"`)"""


def overflow_at_large_text(page, width: int) -> str:  # noqa: ANN001 (a Playwright page)
    """With the page's text at 200% (WCAG 1.4.4), what pushes it wider than ``width``; "" when it fits."""
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    try:
        wide = page.evaluate("document.documentElement.scrollWidth")
        return f"with text at 200% it is {wide} px wide: {page.evaluate(_WIDEST)}" if wide > width else ""
    finally:
        page.evaluate("document.documentElement.style.fontSize = ''")


_WCAG_A_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}


@cache
def _axe():  # noqa: ANN202 (axe-playwright-python's runner, which holds axe-core's script)
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def axe_violations(page) -> list[str]:  # noqa: ANN001 (a Playwright page)
    """axe-core's WCAG 2.0 and 2.1 A and AA violations on the page as it is now, one line per element:
    the rule first, then its impact, its help text and the element."""
    found = []
    for violation in _axe().run(page, options=_WCAG_A_AA).response["violations"]:
        for node in violation["nodes"]:
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {' '.join(node['target'])}")
    return found
