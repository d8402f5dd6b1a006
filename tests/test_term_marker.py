"""The term marker finds glossary phrases in page text and marks each term once, where it first appears."""
from types import SimpleNamespace

from portal.glossary.markup import TermMarker


def _term(slug, title, synonyms=(), matches=()):
    return SimpleNamespace(slug=slug, title=title, names=[title, *synonyms], matches=list(matches))


TERMS = [
    _term("deductible", "Deductible", matches=["deductibles"]),
    _term("copayment", "Copayment", synonyms=["copay"], matches=["copays", "co-pay"]),
    _term("self-pay", "Self-pay"),
    _term("self-pay-discount", "Self-pay discount"),
    _term("out-of-pocket-maximum", "Out-of-pocket maximum"),
    _term("allowed-amount", "Allowed amount"),
    _term("zh-deductible", "免赔额"),
]


def marker():
    return TermMarker(TERMS, lambda term, text, element_id: f"[{term.slug}:{text}:{element_id}]")


def test_each_term_is_marked_once_and_case_is_kept():
    mark = marker()
    assert mark("Your Deductible and your deductible") == "Your [deductible:Deductible:term-1] and your deductible"
    assert mark("Deductible") == "Deductible"
    assert mark.marked == {"deductible"}


def test_the_longest_phrase_wins_and_words_must_be_whole():
    mark = marker()
    assert mark("A self-pay discount, then self-pay.") == \
        "A [self-pay-discount:self-pay discount:term-1], then [self-pay:self-pay:term-2]."
    assert marker()("copayments and copays") == "copayments and [copayment:copays:term-1]"
    assert marker()("the out-of-pocket  maximum") == \
        "the [out-of-pocket-maximum:out-of-pocket  maximum:term-1]"


def test_punctuation_between_words_breaks_a_phrase():
    assert marker()("Allowed. Amount") == "Allowed. Amount"


def test_text_is_escaped_around_the_marks():
    assert marker()("<b>copay</b> & co") == "&lt;b&gt;[copayment:copay:term-1]&lt;/b&gt; &amp; co"


def test_a_label_seen_before_is_plain_once_its_terms_are_marked():
    mark = marker()
    assert mark("Allowed amount") == "[allowed-amount:Allowed amount:term-1]"
    for _ in range(3):
        assert mark("Allowed amount") == "Allowed amount"
    # A new term in a repeated text is still marked.
    assert mark("Allowed amount and copay") == "Allowed amount and [copayment:copay:term-2]"


def test_languages_written_without_spaces_are_searched_as_text():
    assert marker()("这笔费用计入您的免赔额。") == "这笔费用计入您的[zh-deductible:免赔额:term-1]。"
    # Case folding lengthens "ß"; the mark still lands on the term.
    assert marker()("Straße 免赔额") == "Straße [zh-deductible:免赔额:term-1]"


def test_a_translated_message_is_not_escaped_twice():
    from markupsafe import Markup, escape

    message = Markup("Statement for %s") % "O'Brien & Co"  # as gettext returns it in a template
    assert marker()(message) == str(escape("Statement for O'Brien & Co"))
