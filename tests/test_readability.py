"""Every English explanation a patient reads scores a Flesch-Kincaid grade of 8 or below, and no
sentence runs past 25 words: glossary definitions, explanations and examples, dictionary
explanations, and every "why" sentence for every demo line and statement."""
from __future__ import annotations

import re
import statistics

import pytest
import textstat
from sqlalchemy import select

from portal.billing.models import Statement
from portal.billing.services import statement_page
from portal.extensions import db
from portal.glossary.content import read_content

MAX_GRADE = 8
MAX_SENTENCE_WORDS = 25
MAX_SHORT_WORDS = 30

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“$(])")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]


def problems_with(where: str, text: str) -> list[str]:
    problems = []
    grade = textstat.flesch_kincaid_grade(text)
    if grade > MAX_GRADE:
        problems.append(f"{where}: grade {grade:.1f}: {text}")
    for sentence in sentences(text):
        if len(sentence.split()) > MAX_SENTENCE_WORDS:
            problems.append(f"{where}: {len(sentence.split())} words in one sentence: {sentence}")
    return problems


def _report(texts: dict[str, str]) -> list[str]:
    problems = [p for where, text in texts.items() for p in problems_with(where, text)]
    grades = [textstat.flesch_kincaid_grade(text) for text in texts.values()]
    print(f"\n{len(texts)} texts: median grade {statistics.median(grades):.1f}, worst {max(grades):.1f}")
    return problems


def test_glossary_reads_at_grade_8():
    texts = {}
    problems = []
    for term in read_content().glossary["en"]:
        texts[f"glossary {term.slug} short"] = term.short
        texts[f"glossary {term.slug} explanation"] = term.explanation
        texts[f"glossary {term.slug} example"] = term.example
        if len(term.short.split()) > MAX_SHORT_WORDS or len(sentences(term.short)) > 2:
            problems.append(f"glossary {term.slug} short: over {MAX_SHORT_WORDS} words or 2 sentences")
    problems += _report(texts)
    assert not problems, "\n".join(problems)


def test_dictionary_explanations_read_at_grade_8():
    entries = read_content().dictionary["en"]
    texts = {f"dictionary {e.code_system} {e.code}": e.explanation for e in entries}
    problems = [f"{where}: more than one sentence" for where, text in texts.items() if len(sentences(text)) != 1]
    problems += _report(texts)
    assert not problems, "\n".join(problems)


@pytest.fixture
def demo(app, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0


def test_every_why_sentence_for_the_demo_reads_at_grade_8(demo, app):
    texts = {}
    with app.test_request_context():
        for statement in db.session.scalars(select(Statement).order_by(Statement.number)):
            page = statement_page(statement, "en")
            for i, sentence in enumerate(page.why_statement):
                texts[f"statement {statement.number} sentence {i + 1}"] = sentence
            for visit, _totals in page.visits:
                for line in visit.lines:
                    for settled in (False, True):
                        from portal.glossary.why import explain_line

                        for i, sentence in enumerate(explain_line(line, statement.currency, settled=settled)):
                            texts[f"statement {statement.number} line {line.position} sentence {i + 1}"
                                  f"{' (paid)' if settled else ''}"] = sentence
    assert len(texts) > 500
    problems = _report(texts)
    assert not problems, "\n".join(problems)


def test_every_kind_of_why_sentence_reads_at_grade_8(app):
    """Each wording the explanations can produce, from the table of cases in test_why."""
    from portal.glossary.why import explain_line, explain_statement

    from .test_why import LINE_CASES, STATEMENT_CASES

    texts = {}
    with app.test_request_context():
        for name, (line, settled, _expected) in LINE_CASES.items():
            for i, sentence in enumerate(explain_line(line, "USD", settled=settled)):
                texts[f"line case {name!r} sentence {i + 1}"] = sentence
        for name, (lines, paid, due, _expected) in STATEMENT_CASES.items():
            for i, sentence in enumerate(explain_statement(lines, "USD", paid=paid, amount_due=due)):
                texts[f"statement case {name!r} sentence {i + 1}"] = sentence
    problems = _report(texts)
    assert not problems, "\n".join(problems)
