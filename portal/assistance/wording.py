"""What financial assistance says to its reader: the policy's tiers and income limits, and the preliminary
screening of an application, as whole translatable sentences."""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import _, current_locale
from ..money import Money
from .models import AssistanceApplication
from .services import Policy

HOUSEHOLD_SIZES = range(1, 7)


def tier_sentence(max_percent: int, discount_percent: int) -> str:
    if discount_percent >= 100:
        return _("Household income up to %(percent)d%% of the federal poverty guidelines: you pay nothing.",
                 percent=max_percent)
    return _("Household income up to %(percent)d%% of the federal poverty guidelines: %(discount)d%% off what "
             "you owe.", percent=max_percent, discount=discount_percent)


@dataclass(frozen=True)
class IncomeLimits:
    """The yearly income at the top of each tier, for households of 1 to 6 people (what people look up)."""

    tiers: list[tuple[int, int]]  # (max percent, discount percent)
    rows: list[tuple[int, list[Money]]]


def income_limits(policy: Policy) -> IncomeLimits:
    guidelines = policy.guidelines
    rows = [(size, [Money(guidelines.for_household(size) * tier.max_percent // 100, guidelines.currency)
                    for tier in policy.tiers]) for size in HOUSEHOLD_SIZES]
    return IncomeLimits([(t.max_percent, t.discount_percent) for t in policy.tiers], rows)


def screening_sentences(application: AssistanceApplication) -> list[str]:
    """The preliminary screening as the patient reads it, right after applying and until it is decided."""
    locale = current_locale()
    sentences = [_("Your household's income is %(percent)d%% of the federal poverty guideline for %(size)d people "
                   "(%(guideline)s a year in %(year)d).", percent=application.poverty_percent,
                   size=application.household_size,
                   guideline=Money(application.guideline, application.currency).format(locale),
                   year=application.guideline_year)]
    discount = application.preliminary_discount
    if discount is None:
        sentences.append(_("That is above the income limits of our policy. The billing office still looks at every "
                           "application, for example when medical bills are large compared with your income."))
    elif discount >= 100:
        sentences.append(_("Under our policy, that could mean you pay nothing for this bill."))
    else:
        sentences.append(_("Under our policy, that could mean %(discount)d%% off what you owe.", discount=discount))
    return sentences
