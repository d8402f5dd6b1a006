"""The labelled amounts a statement page lists for each line, each visit and the whole statement.

Which amounts a bill shows depends on the line (insured or self-pay, which parts of the patient's share apply);
deciding it here, with each label translated once, keeps the template to one loop per list of amounts rather
than a macro call and a translation per amount (a 10-line statement lists about 90).
"""
from __future__ import annotations

from dataclasses import dataclass

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


def _share_labels() -> tuple[tuple[str, str], ...]:
    return (("deductible", _("Deductible")), ("copay", _("Copay")), ("coinsurance", _("Coinsurance")),
            ("not_covered", _("Not covered")))


def line_rows(line: LineItem) -> list[AmountRow]:
    """One line's amounts: the charge, what insurance did with it (or the self-pay discount), what is owed."""
    rows = [AmountRow(_("Charge"), line.money("charge"))]
    if line.insured:
        rows += [AmountRow(_("Allowed amount"), line.money("allowed")),
                 AmountRow(_("Insurance paid"), line.money("insurance_paid")),
                 AmountRow(_("Adjustment"), line.money("adjustment"))]
        # Only the parts of the patient's share that apply to this line; the totals show them all.
        rows += [AmountRow(label, line.money(field)) for field, label in _share_labels() if line.minor(field)]
    elif line.adjustment:
        rows.append(AmountRow(_("Self-pay discount"), line.money("adjustment")))
    rows.append(AmountRow(_("You owe"), line.money("patient_owes"), "owes"))
    return rows


def breakdown_rows(totals: Breakdown, paid: Money | None = None, amount_due: Money | None = None) -> list[AmountRow]:
    """Totals over some lines (a visit, the statement); with ``paid`` and ``amount_due``, what is left to pay."""
    rows = [AmountRow(_("Charges"), totals["charge"])]
    if totals.insured:
        rows += [AmountRow(_("Allowed amount"), totals["allowed"]),
                 AmountRow(_("Insurance paid"), totals["insurance_paid"]),
                 AmountRow(_("Adjustments"), totals["adjustment"])]
        rows += [AmountRow(label, totals[field]) for field, label in _share_labels()]
    else:
        rows.append(AmountRow(_("Self-pay discount"), totals["adjustment"]))
    rows.append(AmountRow(_("You owe for these services"), totals["patient_owes"], "owes"))
    if paid is not None and amount_due is not None:
        rows += [AmountRow(_("Payments received"), paid), AmountRow(_("Amount due"), amount_due, "total")]
    return rows
