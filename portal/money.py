"""The Money value: integer minor units plus an ISO 4217 currency code.

Nothing else in the portal does money arithmetic or formatting.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Iterable

from babel import Locale, UnknownLocaleError
from babel.numbers import (NumberFormatError, format_currency, get_currency_precision, get_currency_symbol,
                           parse_decimal)


# Unicode's bidirectional isolates: plain characters, so they work in a page, a PDF and an email alike.
_FIRST_STRONG, _LEFT_TO_RIGHT, _POP = "\u2068", "\u2066", "\u2069"
_BIDI_MARKS = "\u200e\u200f\u2066\u2067\u2068\u2069"


@lru_cache(maxsize=8192)
def _format(minor: int, currency: str, locale: str, whole: bool = False) -> str:
    # A statement page shows each amount several times (line, explanation, totals); Babel's
    # formatting is the costliest step of rendering one, and its result depends only on these.
    value = Decimal(minor).scaleb(-get_currency_precision(currency))
    if whole:
        # The locale's own pattern with its decimals dropped (only for amounts that have none).
        pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0].replace(".00", "")
        text = format_currency(value, currency, format=pattern, locale=locale, currency_digits=False)
    else:
        text = format_currency(value, currency, locale=locale)
    if _right_to_left(locale):
        # Arabic writes the number, then the symbol: "698.74 US$". Laid out right to left, the "$" would
        # part from its "US" ("$US 698.74") and a full stop after the amount would join it; isolating the
        # symbol, and the amount from its sentence, keeps both whole.
        symbol = get_currency_symbol(currency, locale)
        text = _FIRST_STRONG + text.replace(symbol, _LEFT_TO_RIGHT + symbol + _POP) + _POP
    return text


@lru_cache(maxsize=32)
def _right_to_left(locale: str) -> bool:
    try:
        return Locale.parse(locale).character_order == "right-to-left"
    except (ValueError, UnknownLocaleError):
        return False


class CurrencyMismatch(ValueError):
    """Raised when amounts in two currencies meet in one calculation."""


class AmountError(ValueError):
    """An amount typed by a person that is not one: ``reason`` is ``"not_a_number"``, ``"too_many_decimals"``
    or ``"not_positive"``, for the form to explain in the reader's language."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, order=False)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True dollars is a bug, not an amount.
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"Money needs integer minor units, got {type(self.minor).__name__}")
        if not (isinstance(self.currency, str) and len(self.currency) == 3
                and self.currency.isascii() and self.currency.isalpha() and self.currency.isupper()):
            raise ValueError(f"Money needs an ISO 4217 currency code, got {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """Add up ``amounts``; an empty iterable is zero in ``currency``."""
        result = cls.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other).minor

    def __bool__(self) -> bool:
        return self.minor != 0

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (for display only, never for arithmetic)."""
        return Decimal(self.minor).scaleb(-get_currency_precision(self.currency))

    def format(self, locale: str) -> str:
        """Format for ``locale`` with Babel, e.g. ``$1,234.50`` or ``1.234,50 €``."""
        return _format(self.minor, self.currency, locale)

    def format_whole(self, locale: str) -> str:
        """``$31,300`` rather than ``$31,300.00``, for a table of round limits; an amount with a fraction keeps it."""
        if self.minor % (10 ** get_currency_precision(self.currency)):
            return self.format(locale)
        return _format(self.minor, self.currency, locale, True)

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"


def parse_amount(text: str, currency: str, locale: str, *, allow_zero: bool = False) -> Money:
    """Read an amount a person typed (``25``, ``1,234.50``, ``$25.50``; ``1.234,50`` in Spanish) as Money.

    The currency symbol or code may be typed or left out. Raises AmountError for text that is not a
    number, has more decimals than the currency has (``10.005`` dollars), or is negative, or zero (unless
    ``allow_zero``: an income may be nothing).
    """
    # An amount copied from an Arabic page carries the invisible marks that keep it in order.
    cleaned = "".join(char for char in text if char not in _BIDI_MARKS)
    cleaned = cleaned.strip().replace(get_currency_symbol(currency, locale), "").replace(currency, "")
    cleaned = cleaned.replace(currency.lower(), "").strip()
    # Letters left over (an exponent, another currency's code) make it something other than an amount.
    if not cleaned or len(cleaned) > 30 or any(char.isalpha() for char in cleaned):
        raise AmountError("not_a_number")
    try:
        value = parse_decimal(cleaned, locale=locale, strict=True)
    except NumberFormatError:
        raise AmountError("not_a_number") from None
    if not value.is_finite():
        raise AmountError("not_a_number")
    places = get_currency_precision(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise AmountError("too_many_decimals")
    if minor < 0 or (minor == 0 and not allow_zero):
        raise AmountError("not_positive")
    return Money(int(minor), currency)
