"""A self-pay visit's bill beside its good faith estimate, and whether the federal dispute process is open.

Under the US No Surprises Act a patient who pays for care themselves gets a good faith estimate beforehand, and
may have a bill that is at least a set amount (400.00 today) above it decided by the federal patient-provider
dispute resolution process. The portal compares what it bills the patient for the visit (after any self-pay
discount) with the estimate: what the patient holds in their hands. The threshold, the days allowed and where to
start are settings (``GOOD_FAITH_DISPUTE_*``), so that a change of rule is a change of configuration.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..money import Money
from .models import Visit


@dataclass(frozen=True)
class EstimateComparison:
    estimate: Money
    given_on: date
    billed: Money
    # How much the bill is above the estimate (zero when it is not).
    over: Money
    may_dispute: bool
    # The smallest gap that opens the dispute process, in the bill's currency.
    threshold: Money


def compare(visit: Visit, billed: Money, threshold_minor: int) -> EstimateComparison | None:
    """The comparison for a self-pay ``visit`` with an estimate on file, billed ``billed``; else None."""
    estimate = visit.estimate
    if estimate is None or not visit.self_pay or estimate.currency != billed.currency:
        return None
    over = billed - estimate.money
    over = over if over.is_positive else Money.zero(billed.currency)
    return EstimateComparison(estimate.money, estimate.given_on, billed, over, over.minor >= threshold_minor,
                              Money(threshold_minor, billed.currency))
