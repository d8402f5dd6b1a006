"""A statement page explains itself: plain service names, "why do I owe this", and glossary terms
that open in place."""
from collections import Counter

import pytest

from .pages import soup, visible_text


@pytest.fixture
def statement_page(client, make, login_as, glossary):
    statement = make.statement(lines=3, codes=[("cpt", "99284"), ("hcpcs", "J2405"), ("cpt", "00000")])
    login_as(make.user(accounts=[statement.account]))
    response = client.get(f"/statements/{statement.number}")
    assert response.status_code == 200
    return soup(response)


def test_lines_show_the_plain_name_first_and_the_code_one_tap_away(statement_page):
    lines = statement_page.select("li.line")
    first = lines[0]
    assert first.select_one(".line-title").get_text(strip=True) == "Emergency room visit"
    assert first.select_one(".line-explanation").get_text(strip=True)
    code = first.select_one("details.disclosure")
    # The service's name is in the summary for screen readers, hidden from sight.
    assert code.summary.get_text(" ", strip=True) == "Code and hospital description – Emergency room visit"
    assert "visually-hidden" in code.summary.span["class"]
    assert code.p.get_text(" ", strip=True) == "CPT code 99284: TEST SERVICE 1"
    assert "open" not in code.attrs
    # A code no dictionary entry covers falls back to the hospital's own description, with no explanation.
    unknown = lines[2]
    assert unknown.select_one(".line-title").get_text(strip=True) == "TEST SERVICE 3"
    assert unknown.select_one(".line-explanation") is None


def test_the_statement_and_every_line_say_why(statement_page):
    why = visible_text(statement_page.select_one("#totals-heading").find_next("p", class_="why"))
    assert why.startswith("The hospital charged $300.00 for 3 services. Your insurance paid $120.00.")
    assert why.endswith("You owe $90.00.")
    for line in statement_page.select("li.line"):
        details = line.select("details.disclosure")[-1]
        assert details.summary.get_text(" ", strip=True).startswith("Why do I owe this? – ")
        text = visible_text(details.select_one("p.why"))
        assert text.startswith("The hospital charged $100.00.") and "You owe $30.00 in all." in text


def test_each_term_is_marked_once_where_it_first_appears(statement_page):
    buttons = statement_page.select("button.term")
    assert buttons, "no glossary term was marked"
    slugs = [statement_page.select_one("#" + b["popovertarget"]).a["href"].split("#")[1] for b in buttons]
    assert [slug for slug, count in Counter(slugs).items() if count > 1] == []
    assert {"deductible", "copayment", "coinsurance", "due-date", "allowed-amount"} <= set(slugs)
    # Headings count too: the page title's "Statement" is the first use of that term.
    heading = statement_page.select_one("h1")
    assert heading.select_one("button.term").get_text() == "Statement"
    assert visible_text(heading).startswith("Statement ")
    # "Deductible" first appears in the statement's explanation; later uses are plain words.
    why = statement_page.select_one("#totals-heading").find_next("p", class_="why")
    assert "deductible" in [b.get_text() for b in why.select("button.term")]
    totals = statement_page.select_one("#totals-heading").find_next("dl")
    deductible_label = next(dt for dt in totals.select("dt") if visible_text(dt) == "Deductible")
    assert deductible_label.select_one("button.term") is None


def test_a_marked_term_opens_its_definition_in_place(statement_page):
    for button in statement_page.select("button.term"):
        assert button["type"] == "button"
        popover = statement_page.select_one("#" + button["popovertarget"])
        # Declared in HTML: no script needed, and the button reads as the word itself.
        assert popover.has_attr("popover") and popover["role"] == "definition"
        title = statement_page.select_one("#" + popover["aria-labelledby"])
        assert title in popover.descendants and title.get_text(strip=True)
        assert popover.select_one(".term-popover-text").get_text(strip=True)
        assert popover.a["href"].startswith("/glossary#")
        close = popover.select_one("button.term-close")
        assert close["popovertarget"] == popover["id"] and close["popovertargetaction"] == "hide"
        # Only phrasing content, so it may sit inside a sentence, a label or a heading.
        assert not popover.find(["div", "p", "details", "section"])


def test_without_a_glossary_the_page_still_reads(client, make, login_as):
    statement = make.statement(lines=1)
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    assert page.select("button.term") == []
    assert visible_text(page.select_one("p.why")).startswith("The hospital charged $100.00 for 1 service.")


def test_self_pay_and_paid_in_full_read_differently(client, make, login_as, glossary):
    statement = make.statement(lines=1, insured=False)
    make.payment(statement, 8000)
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    why = visible_text(page.select_one("p.why"))
    assert why == ("The hospital charged $100.00 for 1 service. You got a self-pay discount of $20.00. "
                   "Your share is $80.00. All of it is for care with no insurance. You have paid $80.00. "
                   "You have paid this bill in full. Thank you.")
    line_why = page.select("li.line details.disclosure")[-1]
    assert line_why.summary.get_text(" ", strip=True).startswith("How was this worked out? – ")
    assert page.select_one("#totals-heading").get_text(strip=True) == "How was this worked out?"
    assert visible_text(line_why.p).endswith("You paid the rest: $80.00.")
