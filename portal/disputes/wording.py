"""What a dispute says to its reader: the reasons as the patient chooses them, outcomes, and the sentence a
disputed line shows on the statement page and the printed statement."""
from __future__ import annotations

from ..i18n import _, _l, current_locale
from .models import CORRECTED, EXPLAINED, SENT_TO_INSURANCE, LineDispute

REASON_CHOICES = {
    "not_received": _l("I did not receive this service"),
    "charged_twice": _l("I was charged twice for it"),
    "insurance_should_pay": _l("My insurance should have paid it"),
    "differs_from_estimate": _l("The amount is different from my estimate"),
    "other": _l("Another reason"),
}

# As the billing office chooses one.
OUTCOME_CHOICES = {
    CORRECTED: _l("Corrected: take money off this charge"),
    EXPLAINED: _l("Explained: the charge is right as billed"),
    SENT_TO_INSURANCE: _l("Sent to insurance to be looked at again"),
}

# As the patient reads it.
OUTCOME_LABELS = {
    CORRECTED: _l("Corrected"),
    EXPLAINED: _l("Explained"),
    SENT_TO_INSURANCE: _l("Sent to your insurance"),
}


def status_sentence(dispute: LineDispute, staff_name: str | None) -> str:
    """One sentence on where a disputed line stands, for the patient (and the printed statement)."""
    if dispute.is_open:
        if staff_name:
            return _("You disputed this charge: %(reason)s. %(name)s at the billing office is looking into it.",
                     reason=REASON_CHOICES[dispute.reason], name=staff_name)
        return _("You disputed this charge: %(reason)s. The billing office is looking into it.",
                 reason=REASON_CHOICES[dispute.reason])
    if dispute.outcome == CORRECTED and dispute.adjustment is not None:
        return _("Your dispute of this charge was upheld: the billing office took %(amount)s off it.",
                 amount=dispute.adjustment.money.format(current_locale()))
    if dispute.outcome == SENT_TO_INSURANCE:
        return _("Your dispute of this charge was sent to your insurance to look at again. We will send you a new "
                 "statement if what you owe changes.")
    return _("The billing office looked into your dispute of this charge and explained it.")
