"""Routing's reasons as a sentence a supervisor (or a patient) can read, in the reader's language.

Assignments keep their reasons as codes and facts, so that the same assignment reads in English for one
supervisor and in Spanish for another.
"""
from __future__ import annotations

from babel import Locale
from babel.core import UnknownLocaleError

from ..i18n import _, _l, current_locale, list_filter, ngettext
from . import routing
from .models import Assignment

# The topics as a patient chooses them on the form.
TOPIC_CHOICES = {
    "charges": _l("A charge I don't recognize"),
    "insurance": _l("My insurance"),
    "payment_plan": _l("I can't afford this / a payment plan"),
    "financial_assistance": _l("Financial assistance"),
    "refund": _l("A refund"),
    "other": _l("Something else"),
}
# Every topic as staff and patients read it on a question: the form's, and a disputed charge's.
TOPIC_LABELS = {**TOPIC_CHOICES, "dispute": _l("A disputed charge")}

# The topics inside a sentence ("handles insurance questions").
TOPIC_NAMES = {
    "charges": _l("charges"),
    "insurance": _l("insurance"),
    "payment_plan": _l("payment plan"),
    "financial_assistance": _l("financial assistance"),
    "refund": _l("refund"),
    "other": _l("general"),
    "dispute": _l("disputed charge"),
}


def language_name(code: str | None) -> str:
    """``es`` as the reader calls it: "Spanish" to an English reader, "español" to a Spanish one."""
    if not code:
        return ""
    try:
        return Locale.parse(code.replace("-", "_")).get_display_name(current_locale()) or code
    except (UnknownLocaleError, ValueError):
        return code


def reason_parts(reasons: dict, *, for_patient: bool = False) -> list[str]:
    """Routing's reasons as phrases. A patient reads what the person shares with the question ("speaks
    Spanish"), never how busy anyone is or that nobody handles the topic."""
    codes = reasons.get("codes", [])
    topic = str(TOPIC_NAMES.get(reasons.get("topic"), reasons.get("topic", "")))
    language = language_name(reasons.get("language"))
    parts = []
    for code in codes:
        if code == routing.CONTINUITY:
            parts.append(_("already answers your household's questions") if for_patient
                         else _("already answers this household's questions"))
        elif code == routing.LANGUAGE:
            parts.append(_("speaks %(language)s", language=language))
        elif code == routing.INTERPRETER:
            parts.append(_("will answer with an interpreter for %(language)s", language=language) if for_patient
                         else _("needs an interpreter for %(language)s", language=language))
        elif code == routing.TOPIC:
            parts.append(_("handles %(topic)s questions", topic=topic))
        elif code == routing.DEPARTMENT:
            parts.append(_("covers %(department)s", department=reasons.get("department") or ""))
        elif for_patient:
            continue
        elif code == routing.ANY_TOPIC:
            parts.append(_("nobody handles %(topic)s questions, so the first available", topic=topic))
        elif code == routing.WORKLOAD:
            count = int(reasons.get("open_questions", 0))
            parts.append(ngettext("has %(num)d open question", "has %(num)d open questions", count))
    return parts


def reason_sentence(assignment: Assignment, staff_name: str, by_name: str | None = None) -> str:
    """"Maria Santos: speaks Spanish, handles insurance questions, 3 open questions"; or, for a person's
    reassignment, their name and their words."""
    if assignment.assigned_by_user_id is not None:
        return _("%(name)s: reassigned by %(by)s: %(note)s", name=staff_name, by=by_name or "",
                 note=assignment.note or "")
    return _("%(name)s: %(reasons)s", name=staff_name, reasons=list_filter(reason_parts(assignment.reasons)))


def patient_reason(assignment: Assignment | None) -> str | None:
    """Why this person answers, as the patient reads it; None when there is nothing to say."""
    if assignment is None:
        return None
    if assignment.assigned_by_user_id is not None:
        # A colleague's words are for colleagues.
        return _("The billing office chose this person for your question.")
    parts = reason_parts(assignment.reasons or {}, for_patient=True)
    return _("Chosen because this person %(reasons)s.", reasons=list_filter(parts)) if parts else None
