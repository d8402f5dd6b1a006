"""The labelled amounts a statement page lists for each line, each visit and the whole statement.

Which amounts a bill shows depends on the line (insured or self-pay, which parts of the patient's share apply);
deciding it here keeps the template to one loop per list of amounts rather than a macro call and a translation
per amount (a 10-line statement lists about 90). One ``AmountRows`` serves one page: its labels are translated
once, in the page's language.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..glossary.why import SHARE_PARTS
from ..i18n import _
from ..money import Money
from .models import LineItem
from .services import Breakdown


@dataclass(frozen=True)
class AmountRow:
    label: str
    amount: Money
    # "owes" and "total" set the patient's share and the amount due apart from the rest.
    emphasis: str = ""


class AmountRows:
    """The rows of one statement's page, in ``currency``."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.labels = {
            "charge": _("Charge"), "charges": _("Charges"), "allowed": _("Allowed amount"),
            "insurance_paid": _("Insurance paid"), "adjustment": _("Adjustment"), "adjustments": _("Adjustments"),
            "deductible": _("Deductible"), "copay": _("Copay"), "coinsurance": _("Coinsurance"),
            "not_covered": _("Not covered"), "self_pay_discount": _("Self-pay discount"), "owes": _("You owe"),
            "owes_for_services": _("You owe for these services"), "paid": _("Payments received"),
            "amount_due": _("Amount due"),
            "credited": _("Taken off by the billing office"), "owes_now": _("You owe now"),
            "owes_after": _("You owe for these services now"),
        }

    def _row(self, label: str, minor: int, emphasis: str = "") -> AmountRow:
        return AmountRow(self.labels[label], Money(minor, self.currency), emphasis)

    def line(self, line: LineItem, credited: int = 0) -> list[AmountRow]:
        """One line's amounts: the charge, what insurance did with it (or the self-pay discount), what is owed;
        with ``credited``, what the billing office took off it since and what is owed now."""
        rows = [self._row("charge", line.charge)]
        if line.insured:
            rows += [self._row("allowed", line.minor("allowed")), self._row("insurance_paid", line.insurance_paid),
                     self._row("adjustment", line.adjustment)]
            # Only the parts of the patient's share that apply to this line; the totals show them all.
            rows += [self._row(part, line.minor(part)) for part in SHARE_PARTS if line.minor(part)]
        elif line.adjustment:
            rows.append(self._row("self_pay_discount", line.adjustment))
        if credited:
            return rows + [self._row("owes", line.patient_owes_minor), self._row("credited", credited),
                           self._row("owes_now", line.patient_owes_minor - credited, "owes")]
        rows.append(self._row("owes", line.patient_owes_minor, "owes"))
        return rows

    def breakdown(self, totals: Breakdown, paid: Money | None = None,
                  amount_due: Money | None = None) -> list[AmountRow]:
        """Totals over some lines (a visit, the statement); with ``paid`` and ``amount_due``, what is left."""
        rows = [self._row("charges", totals.totals["charge"])]
        if totals.insured:
            rows += [self._row("allowed", totals.totals["allowed"]),
                     self._row("insurance_paid", totals.totals["insurance_paid"]),
                     self._row("adjustments", totals.totals["adjustment"])]
            rows += [self._row(part, totals.totals[part]) for part in SHARE_PARTS]
        else:
            rows.append(self._row("self_pay_discount", totals.totals["adjustment"]))
        if totals.credited:
            rows += [self._row("owes_for_services", totals.totals["patient_owes"]),
                     self._row("credited", totals.credited)]
            if paid is None:
                rows.append(self._row("owes_after", totals.owes_after_credits.minor, "owes"))
        else:
            rows.append(self._row("owes_for_services", totals.totals["patient_owes"], "owes"))
        if paid is not None and amount_due is not None:
            rows += [AmountRow(self.labels["paid"], paid), AmountRow(self.labels["amount_due"], amount_due, "total")]
        return rows
