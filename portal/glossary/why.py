""""Why do I owe this?": plain sentences built from a line's or a statement's adjudication amounts.

They follow the order a bill is worked out in: what was charged, what insurance allowed and paid, what
was taken off and why, and what is left for the patient and which part is deductible, copay,
coinsurance or not covered. Every sentence is one whole translatable message with named placeholders;
amounts are formatted by Babel for the active locale.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..i18n import _, _l, current_locale, ngettext
from ..money import Money

# The parts of a patient's share, in the order they are explained.
SHARE_PARTS = ("deductible", "copay", "coinsurance", "not_covered")


class Adjudicated(Protocol):
    """A line item's amounts: ``minor(field)`` in minor units, and whether insurance was billed."""

    @property
    def insured(self) -> bool: ...

    def minor(self, field: str) -> int: ...


def _fmt(minor: int, currency: str) -> str:
    # Money.format keeps an amount whole inside a right-to-left sentence.
    return Money(minor, currency).format(current_locale())


# Whole sentences for each part of a patient's share, translated only when one is used. Keys: the part,
# or "not_covered_part" when insurance paid for the service but not for all of it.
_OWE_BECAUSE = {
    "deductible": _l("You owe %(amount)s because it counts toward your deductible."),
    "copay": _l("You owe %(amount)s because it is your copay for this visit."),
    "coinsurance": _l("You owe %(amount)s because it is your coinsurance, your part of the agreed price."),
    "not_covered": _l("You owe %(amount)s because your plan does not cover it."),
    "not_covered_part": _l("You owe %(amount)s because your plan does not cover that part of the service."),
}
_PAID_BECAUSE = {
    "deductible": _l("You paid %(amount)s because it counts toward your deductible."),
    "copay": _l("You paid %(amount)s because it is your copay for this visit."),
    "coinsurance": _l("You paid %(amount)s because it is your coinsurance, your part of the agreed price."),
    "not_covered": _l("You paid %(amount)s because your plan does not cover it."),
    "not_covered_part": _l("You paid %(amount)s because your plan does not cover that part of the service."),
}
_PART_OF_TOTAL = {
    "deductible": _l("%(amount)s of that counts toward your deductible."),
    "copay": _l("%(amount)s of that is your copay."),
    "coinsurance": _l("%(amount)s of that is your coinsurance."),
    "not_covered": _l("%(amount)s of that is not covered by your plan."),
    "self_pay": _l("%(amount)s of that is for care with no insurance."),
}
_ALL_OF_IT = {
    "deductible": _l("All of it counts toward your deductible."),
    "copay": _l("All of it is your copay."),
    "coinsurance": _l("All of it is your coinsurance."),
    "not_covered": _l("All of it is for care your plan does not cover."),
    "self_pay": _l("All of it is for care with no insurance."),
}


def _say(message, **values: str) -> str:  # noqa: ANN001 (a lazy gettext string)
    """Translate a message from the tables above now, in the active locale, and fill its placeholders."""
    return str(message) % values if values else str(message)


def _denied(amounts: dict[str, int]) -> bool:
    """Insurance refused the service: it paid nothing, and what is left is not covered (no cost sharing)."""
    return amounts["insurance_paid"] == 0 and (
        amounts["allowed"] == 0
        or (amounts["not_covered"] > 0 and not any(amounts[p] for p in ("deductible", "copay", "coinsurance"))))


def explain_line(line: Adjudicated, currency: str, *, settled: bool = False) -> list[str]:
    """Explain what the patient owes on one line; ``settled`` when the statement is paid in full."""
    amounts = {field: line.minor(field) for field in
               ("charge", "allowed", "insurance_paid", "adjustment", "patient_owes", *SHARE_PARTS)}

    def money(field: str) -> str:
        return _fmt(amounts[field], currency)

    if amounts["charge"] == 0:
        return [_("There is no charge for this service.")]
    sentences = [_("The hospital charged %(amount)s.", amount=money("charge"))]
    owes = amounts["patient_owes"]

    if not line.insured:
        if amounts["adjustment"]:
            sentences.append(_("You had no insurance for this visit, so you got a self-pay discount of %(amount)s.",
                               amount=money("adjustment")))
        else:
            sentences.append(_("You had no insurance for this visit."))
        if owes == 0:
            sentences.append(_("You owe nothing for this service."))
        elif settled:
            sentences.append(_("You paid the rest: %(amount)s.", amount=money("patient_owes")))
        else:
            sentences.append(_("You owe the rest: %(amount)s.", amount=money("patient_owes")))
        return sentences

    allowed, paid, charge = amounts["allowed"], amounts["insurance_paid"], amounts["charge"]
    denied = _denied(amounts)
    if denied:
        sentences.append(_("Your insurance did not pay for this service."))
    elif allowed == charge:
        sentences.append(_("Your insurance accepted the full price and paid %(paid)s.", paid=money("insurance_paid"))
                         if paid else _("Your insurance accepted the full price but paid nothing."))
    elif paid:
        sentences.append(_("Your insurance agreed to a price of %(allowed)s and paid %(paid)s.",
                           allowed=money("allowed"), paid=money("insurance_paid")))
    else:
        sentences.append(_("Your insurance agreed to a price of %(allowed)s but paid nothing.",
                           allowed=money("allowed")))

    if amounts["adjustment"]:
        if not denied and amounts["adjustment"] == charge - allowed:
            sentences.append(_("The other %(amount)s was taken off under the hospital's agreement with your "
                               "insurance.", amount=money("adjustment")))
        elif not denied:
            sentences.append(_("The hospital took %(amount)s off under its agreement with your insurance.",
                               amount=money("adjustment")))
        else:
            sentences.append(_("The hospital took %(amount)s off the bill.", amount=money("adjustment")))

    parts = [part for part in SHARE_PARTS if amounts[part]]
    if owes == 0:
        sentences.append(_("Your insurance paid all of the agreed price, so you owe nothing.")
                         if paid and paid == allowed else _("You owe nothing for this service."))
    elif len(parts) == 1:
        # Insurance paid for the service but not for all of it: say which part, not "not covered".
        reason = "not_covered_part" if parts == ["not_covered"] and not denied else parts[0]
        sentences.append(_say((_PAID_BECAUSE if settled else _OWE_BECAUSE)[reason], amount=money("patient_owes")))
    else:
        sentences.append(_("You paid %(amount)s in all.", amount=money("patient_owes")) if settled
                         else _("You owe %(amount)s in all.", amount=money("patient_owes")))
        sentences.extend(_say(_PART_OF_TOTAL[part], amount=money(part)) for part in parts)
    if denied and amounts["not_covered"]:
        sentences.append(_("If you think this is wrong, you can ask your insurance for an appeal."))
    return sentences


def explain_credit(credited: int, owes_after: int, currency: str) -> str:
    """What the billing office took off one line in the portal, and what is left of it."""
    return _("After reviewing this charge, the billing office took %(amount)s off it, so your share of it is now "
             "%(owes)s.", amount=_fmt(credited, currency), owes=_fmt(owes_after, currency))


def explain_statement(lines: Iterable[Adjudicated], currency: str, *, paid: Money, amount_due: Money,
                      credited: Money | None = None, assistance: Money | None = None) -> list[str]:
    """Explain a whole statement: charges, insurance, adjustments, the patient's share, what the billing office
    took off since (``credited``: corrections; ``assistance``: a financial assistance discount) and payments."""
    lines = list(lines)
    totals = dict.fromkeys(("charge", "insurance_paid", "contractual", "write_off", "discount", "patient_owes",
                            "self_pay", *SHARE_PARTS), 0)
    insured = False
    for line in lines:
        totals["charge"] += line.minor("charge")
        totals["patient_owes"] += line.minor("patient_owes")
        if line.insured:
            insured = True
            amounts = {field: line.minor(field) for field in ("allowed", "insurance_paid", *SHARE_PARTS)}
            totals["insurance_paid"] += amounts["insurance_paid"]
            # As each line says: taken off under the insurance agreement, or written off a refused service.
            totals["write_off" if _denied(amounts) else "contractual"] += line.minor("adjustment")
            for part in SHARE_PARTS:
                totals[part] += amounts[part]
        else:
            totals["discount"] += line.minor("adjustment")
            totals["self_pay"] += line.minor("patient_owes")

    def money(field: str) -> str:
        return _fmt(totals[field], currency)

    sentences = [ngettext("The hospital charged %(amount)s for %(num)d service.",
                          "The hospital charged %(amount)s for %(num)d services.", len(lines),
                          amount=money("charge"))]
    if insured:
        sentences.append(_("Your insurance paid %(amount)s.", amount=money("insurance_paid"))
                         if totals["insurance_paid"] else _("Your insurance paid nothing."))
    if totals["contractual"]:
        sentences.append(_("The hospital took %(amount)s off under its agreements with your insurance.",
                           amount=money("contractual")))
    if totals["write_off"]:
        sentences.append(_("The hospital took %(amount)s off for services your insurance did not pay for.",
                           amount=money("write_off")))
    if totals["discount"]:
        sentences.append(_("You got a self-pay discount of %(amount)s.", amount=money("discount")))
    if totals["patient_owes"]:
        sentences.append(_("Your share is %(amount)s.", amount=money("patient_owes")))
        parts = [part for part in (*SHARE_PARTS, "self_pay") if totals[part]]
        if len(parts) == 1:
            sentences.append(_say(_ALL_OF_IT[parts[0]]))
        else:
            sentences.extend(_say(_PART_OF_TOTAL[part], amount=money(part)) for part in parts)
    if credited is not None and credited.is_positive:
        sentences.append(_("After reviewing the bill, the billing office has taken %(amount)s off it.",
                           amount=credited.format(current_locale())))
    if assistance is not None and assistance.is_positive:
        sentences.append(_("Financial assistance took %(amount)s off it.", amount=assistance.format(current_locale())))
    if paid.is_positive:
        sentences.append(_("You have paid %(amount)s.", amount=paid.format(current_locale())))
    if amount_due.is_positive:
        sentences.append(_("You owe %(amount)s.", amount=amount_due.format(current_locale())))
    elif amount_due.is_negative:
        sentences.append(_("You have paid %(amount)s more than you owe.", amount=(-amount_due).format(current_locale())))
        sentences.append(_("Ask the billing office about a refund."))
    elif totals["patient_owes"] and paid.is_positive:
        sentences.append(_("You have paid this bill in full. Thank you."))
    else:
        sentences.append(_("You owe nothing on this bill."))
    return sentences
