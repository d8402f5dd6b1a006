"""A plan's schedule, worked out from the amount, the number of months and the day of the month: pure, no
database, so that what the patient is shown and what is stored come from the same arithmetic.

Every instalment but the last is the amount divided by the months, rounded down to the minor unit; the last
takes what is left, so the instalments add up to the amount exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Charges fall on a day every month has.
LAST_DAY = 28


class ScheduleRefused(ValueError):
    """The schedule breaks the organisation's rules; ``reason`` names which, ``values`` fill the message."""

    def __init__(self, reason: str, **values: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Rules:
    """The organisation's rules for plans, in minor units of its currency."""

    threshold: int  # a balance must be above this
    minimum_monthly: int
    maximum_months: int
    notice_days: int


@dataclass(frozen=True)
class Instalment:
    due_on: date
    amount: int


def month_choices(total: int, rules: Rules, *, revision: bool = False) -> list[int]:
    """The numbers of months a patient may choose for ``total``, none below the monthly minimum: two or more for
    a new plan; for a plan being recomputed (a statement added), one month too, or every month when even one
    is below the minimum, since that balance is already in the plan."""
    first = 1 if revision else 2
    choices = [months for months in range(first, rules.maximum_months + 1) if total // months >= rules.minimum_monthly]
    return choices or ([1] if revision and total > 0 else [])


def check(total: int, months: int, day: int, rules: Rules, *, revision: bool = False) -> None:
    """Raise ScheduleRefused unless ``total`` may be paid over ``months`` on ``day`` of each month."""
    if not revision and total <= rules.threshold:
        raise ScheduleRefused("below_threshold", threshold=rules.threshold)
    if not 1 <= day <= LAST_DAY:
        raise ScheduleRefused("day", last=LAST_DAY)
    if months < (1 if revision else 2):
        raise ScheduleRefused("too_few_months")
    if revision and months in month_choices(total, rules, revision=True):
        return
    if months > rules.maximum_months:
        raise ScheduleRefused("too_many_months", maximum=rules.maximum_months)
    if total // months < rules.minimum_monthly:
        raise ScheduleRefused("below_minimum_monthly", minimum=rules.minimum_monthly,
                              months=max(month_choices(total, rules), default=0))


def first_due(today: date, day: int, notice_days: int) -> date:
    """The first ``day`` of a month far enough ahead that the patient can be told before it is charged."""
    earliest = today + timedelta(days=notice_days)
    candidate = earliest.replace(day=day)
    return candidate if candidate >= earliest else add_months(candidate, 1)


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (days up to 28 exist in every month)."""
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


def instalments(total: int, months: int, first: date) -> list[Instalment]:
    """``months`` monthly instalments from ``first`` that add up to ``total``; the last absorbs the rounding."""
    if months < 1 or total < months:
        raise ScheduleRefused("too_many_months", maximum=max(total, 1))
    each = total // months
    amounts = [each] * (months - 1) + [total - each * (months - 1)]
    return [Instalment(add_months(first, n), amount) for n, amount in enumerate(amounts)]


def build(total: int, months: int, day: int, today: date, rules: Rules, *,
          revision: bool = False) -> list[Instalment]:
    """The schedule a patient is shown and agrees to; raises ScheduleRefused when it breaks the rules."""
    check(total, months, day, rules, revision=revision)
    return instalments(total, months, first_due(today, day, rules.notice_days))
