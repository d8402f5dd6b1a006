"""Amounts from billing files into minor units, and a line's insurance breakdown made to add up to the cent.

Exports carry amounts as decimals with float artefacts (``28.104000000000003``). Each is rounded half-up
to the currency's minor unit on its own, as a person reading the EOB would; rounding the parts of a line
separately can leave them a cent or two away from the allowed amount, and the rule below says where that
residue goes.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from .records import BadInput


# The largest amount a line may carry, in minor units: what the database's amount columns hold (21,474,836.47
# in a two-decimal currency), far above any one hospital line.
MAX_MINOR = 2**31 - 1


def to_minor(value: object, currency: str, *, what: str) -> int:
    """``value`` (a JSON number read as Decimal or int, or a decimal string from CSV) in minor units.

    Refuses text that is not a plain decimal number (no thousands separators or decimal commas), booleans,
    infinities, negative amounts and amounts beyond ``MAX_MINOR``, naming ``what``.
    """
    if isinstance(value, bool) or value is None:
        raise BadInput(f"{what} is not a number")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise BadInput(f"{what} is not a number: {value[:40]!r}") from None
    if isinstance(value, float):  # only from a caller that did not parse with Decimal: use its shortest repr
        value = Decimal(repr(value))
    if not isinstance(value, (int, Decimal)):
        raise BadInput(f"{what} is not a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise BadInput(f"{what} is not a number")
    if amount < 0:
        raise BadInput(f"{what} is negative ({amount})")
    if amount.adjusted() > 12:  # more than a trillion: refused before any arithmetic on it
        raise BadInput(f"{what} is too large")
    minor = int(amount.scaleb(get_currency_precision(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if minor > MAX_MINOR:
        raise BadInput(f"{what} is too large")
    return minor


def needs_rounding(value: object, currency: str) -> bool:
    """Whether ``value`` has more decimals than the currency's minor unit (a float artefact, or a fraction of
    a cent), so that rounding it may move it by up to half a minor unit."""
    return isinstance(value, Decimal) and value.is_finite() and \
        value.as_tuple().exponent < -get_currency_precision(currency)


PATIENT_PARTS = ("deductible", "copay", "coinsurance", "not_covered")


def settle_insured(charge: int, allowed: int | None, paid: int, parts: dict[str, int], *,
                   rounded: int, what: str, resource: str = "") -> dict[str, int | None]:
    """An insured line's amounts, whose parts add up to ``charge`` exactly.

    - ``allowed`` missing: the insurer's payment plus the patient's parts.
    - The contractual adjustment is ``charge - allowed``; an allowed amount above the charge is refused.
    - Residue rule: ``allowed - (paid + parts)`` of at most one minor unit for each of the ``rounded`` amounts
      (those that had more decimals than the currency; none, no residue is rounding) is rounding; the insurer's
      payment absorbs it (so the patient owes exactly the parts the EOB lists), or, when that would make the
      payment negative, the largest patient part does; never taking any amount below zero.
    - A larger positive remainder is allowed money neither paid by the insurer nor named as deductible,
      copay or coinsurance: the patient owes it, as not covered. Parts exceeding the allowed amount are refused.
    """
    parts = {name: parts.get(name, 0) for name in PATIENT_PARTS}
    share = sum(parts.values())
    if allowed is None:
        allowed = paid + share
    if allowed > charge:
        raise BadInput(f"{what}: the allowed amount is more than the charge", resource)
    residue = allowed - paid - share
    largest = max(PATIENT_PARTS, key=lambda name: parts[name])
    if residue and abs(residue) <= rounded and (paid + residue >= 0 or parts[largest] + residue >= 0):
        if paid + residue >= 0:
            paid += residue
        else:
            parts[largest] += residue
    elif residue > 0:
        parts["not_covered"] += residue
    elif residue < 0:
        raise BadInput(f"{what}: the insurer's payment and the patient's share add up to more than the allowed "
                       f"amount", resource)
    return {"charge": charge, "allowed": allowed, "insurance_paid": paid, "adjustment": charge - allowed,
            **parts}


def settle_self_pay(charge: int, discount: int, *, what: str, resource: str = "") -> dict[str, int | None]:
    """A self-pay line: the charge less any self-pay discount, all of it the patient's."""
    if discount > charge:
        raise BadInput(f"{what}: the discount is more than the charge", resource)
    return {"charge": charge, "allowed": None, "insurance_paid": 0, "adjustment": discount, "deductible": 0,
            "copay": 0, "coinsurance": 0, "not_covered": 0}
