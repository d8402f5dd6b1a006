"""The preliminary screening of a financial assistance application: household income as a percentage of the
federal poverty guideline for its size, and the discount the hospital's policy gives at that percentage.

Pure: the guidelines and the policy's tiers are passed in (``load_guidelines`` reads a year's file), so the
arithmetic is tested on its own. Integer arithmetic throughout: the percentage shown is rounded down, and a
household exactly at a tier's limit is inside it, a cent above it outside.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

REGIONS = ("contiguous", "alaska", "hawaii")
MAX_HOUSEHOLD = 20


class GuidelinesError(ValueError):
    """A guidelines file that is missing or not in the expected shape."""


@dataclass(frozen=True)
class Guidelines:
    year: int
    currency: str
    first_person: int
    each_additional_person: int

    def for_household(self, size: int) -> int:
        """The guideline for a household of ``size`` people, in minor units."""
        if not 1 <= size <= MAX_HOUSEHOLD:
            raise ValueError("household size out of range")
        return self.first_person + (size - 1) * self.each_additional_person


@dataclass(frozen=True)
class Tier:
    """Up to ``max_percent`` of the guideline (inclusive), ``discount_percent`` off what the patient owes."""

    max_percent: int
    discount_percent: int


@dataclass(frozen=True)
class Screening:
    guideline: int
    percent: int
    # The discount the policy gives at that percentage; None when the income is above every tier.
    discount_percent: int | None


def tiers_from(setting: list) -> list[Tier]:
    """The policy's tiers from configuration (``[[200, 100], [300, 50]]``), lowest limit first."""
    tiers = sorted((Tier(int(limit), int(discount)) for limit, discount in setting), key=lambda t: t.max_percent)
    if any(not (0 < t.discount_percent <= 100 and t.max_percent > 0) for t in tiers):
        raise ValueError("each tier needs a limit above 0 and a discount from 1 to 100 percent")
    return tiers


def screen(income: int, size: int, guidelines: Guidelines, tiers: list[Tier]) -> Screening:
    """Screen a household of ``size`` with ``income`` a year (minor units of the guidelines' currency)."""
    if income < 0:
        raise ValueError("income cannot be negative")
    guideline = guidelines.for_household(size)
    percent = income * 100 // guideline
    # Compared exactly, not by the rounded percentage: a cent over a limit is over it.
    discount = next((tier.discount_percent for tier in tiers if income * 100 <= guideline * tier.max_percent), None)
    return Screening(guideline, percent, discount)


def available_years(directory: str) -> list[int]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(int(name[:-5]) for name in names if name.endswith(".json") and name[:-5].isdigit())


def load_guidelines(directory: str, year: int | None, region: str) -> Guidelines:
    """The guidelines of ``year`` (the latest file when None) for ``region``."""
    if region not in REGIONS:
        raise GuidelinesError(f"unknown region {region!r}: one of {', '.join(REGIONS)}")
    years = available_years(directory)
    if not years:
        raise GuidelinesError(f"no poverty guidelines in {directory}")
    year = year or years[-1]
    try:
        with open(os.path.join(directory, f"{year}.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        amounts = data["regions"][region]
        return Guidelines(int(data["year"]), str(data["currency"]), int(amounts["first_person"]),
                          int(amounts["each_additional_person"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GuidelinesError(f"poverty guidelines for {year} could not be read: {error}") from None
