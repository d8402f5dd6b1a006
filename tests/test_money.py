from decimal import Decimal

import pytest

from portal.i18n import money_filter
from portal.money import CurrencyMismatch, Money


def test_arithmetic_stays_in_integer_minor_units():
    total = Money(1999, "USD") + Money(1, "USD") - Money(500, "USD")
    assert total == Money(1500, "USD")
    assert -total == Money(-1500, "USD")
    assert Money.total([Money(1, "USD")] * 3, "USD") == Money(3, "USD")
    assert Money.total([], "EUR") == Money.zero("EUR")


@pytest.mark.parametrize("bad", [1.5, Decimal("1.50"), "150", True, None])
def test_only_integers_are_money(bad):
    with pytest.raises(TypeError):
        Money(bad, "USD")


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "", "€€€", 840])
def test_currency_must_be_iso_code(code):
    with pytest.raises(ValueError):
        Money(100, code)


def test_mixed_currencies_are_refused():
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money(100, "USD") < Money(100, "EUR")
    with pytest.raises(TypeError):
        Money(100, "USD") + 100


def test_comparisons_and_sign():
    assert Money(1, "USD") > Money(0, "USD")
    assert Money(0, "USD").is_positive is False
    assert Money(-1, "USD").is_negative
    assert not Money.zero("USD")


@pytest.mark.parametrize("money, locale, expected", [
    (Money(123450, "USD"), "en", "$1,234.50"),
    (Money(5, "USD"), "en", "$0.05"),
    (Money(-2500, "USD"), "en", "-$25.00"),
    (Money(123450, "EUR"), "de", "1.234,50\xa0€"),
    (Money(1234, "JPY"), "ja", "￥1,234"),  # yen have no minor unit
    (Money(1234567, "BHD"), "en", "BHD1,234.567"),  # three decimals
])
def test_babel_formats_for_the_locale(money, locale, expected):
    assert money.format(locale) == expected


def test_to_decimal_is_exact():
    assert Money(10, "USD").to_decimal() == Decimal("0.10")
    assert Money(1, "KWD").to_decimal() == Decimal("0.001")


def test_template_filter_refuses_plain_numbers(app):
    with app.test_request_context():
        assert money_filter(Money(100, "USD")) == "$1.00"
        with pytest.raises(TypeError):
            money_filter(100)
        with pytest.raises(TypeError):
            money_filter(1.0)


def test_a_right_to_left_amount_keeps_its_symbol_whole_and_stays_apart_from_its_sentence():
    # Babel writes "‏698.74 US$" for Arabic; laid out right to left, the "$" would part from its "US".
    text = Money(69874, "USD").format("ar")
    assert text == "\u2068\u200f698.74\u00a0\u2066US$\u2069\u2069"
    # Left-to-right languages get Babel's text as it is.
    assert Money(69874, "USD").format("es") == "698,74\u00a0US$"


@pytest.mark.parametrize("locale", ["ar", "en", "es"])
def test_an_amount_copied_from_a_page_reads_back(locale):
    from portal.money import parse_amount

    for minor in (1, 69874, 123456789):
        assert parse_amount(Money(minor, "USD").format(locale), "USD", locale) == Money(minor, "USD")
