"""Who answers a question: a pure, deterministic choice among the billing office's staff, with its reasons.

No database and no Flask here: the caller passes snapshots of the staff, their open work and the day, and
stores the decision. The rules, in order of precedence:

1. **Candidates**: active staff who are not out of office that day and have the question's topic among their
   skills. When nobody handles the topic, every active member present is a candidate (a question is never
   left without a named person while anyone is in).
2. **Continuity**: the patient's current staff member keeps the question while they are a candidate.
3. **Language**: otherwise, those who speak the patient's language; when nobody does, the choice is marked as
   needing an interpreter.
4. **Service line**: for a question about a line, those who cover its department, when any does.
5. **Workload**: the least open work, weighted by topic; then the fewest open questions; then the lowest id,
   so that the same facts always give the same person.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

# How much of a person's time a question of each topic takes, relative to a simple one. Affordability and
# assistance questions mean a conversation and paperwork; a refund is usually one look at the payments.
# A dispute means checking the record and often a correction to post.
TOPIC_WEIGHTS = {"charges": 2, "insurance": 2, "payment_plan": 3, "financial_assistance": 3, "refund": 1,
                 "other": 1, "dispute": 3}

# Reason codes, in the order a reason sentence lists them.
CONTINUITY, LANGUAGE, INTERPRETER, TOPIC, ANY_TOPIC, DEPARTMENT, WORKLOAD = (
    "continuity", "language", "interpreter", "topic", "any_topic", "department", "workload")


@dataclass(frozen=True)
class StaffSnapshot:
    """One member of the billing office as routing sees them."""

    id: int
    name: str
    languages: frozenset[str]
    topics: frozenset[str]
    departments: frozenset[str] = frozenset()
    active: bool = True
    away_from: date | None = None
    away_until: date | None = None

    def away_on(self, day: date) -> bool:
        """Out of office on ``day``: from ``away_from`` (or open-ended before) through ``away_until``."""
        if self.away_from is None and self.away_until is None:
            return False
        starts = self.away_from or date.min
        ends = self.away_until or date.max
        return starts <= day <= ends

    def available_on(self, day: date) -> bool:
        return self.active and not self.away_on(day)


@dataclass(frozen=True)
class Workload:
    """A person's open questions: their count and their weight by topic."""

    weighted: int = 0
    count: int = 0

    def plus(self, topic: str) -> Workload:
        return Workload(self.weighted + weight(topic), self.count + 1)


@dataclass(frozen=True)
class QuestionFacts:
    topic: str
    language: str
    department: str | None = None
    current_staff_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """The person chosen and why, as reason codes with what a sentence needs to say them."""

    staff_id: int
    reasons: tuple[str, ...]
    needs_interpreter: bool
    open_questions: int


def weight(topic: str) -> int:
    return TOPIC_WEIGHTS.get(topic, 1)


def language_matches(spoken: Iterable[str], wanted: str) -> bool:
    """``zh_Hans`` speakers answer ``zh``; a Spanish speaker answers ``es_MX``: compared by language."""
    base = wanted.replace("-", "_").split("_")[0].lower()
    return any(language.replace("-", "_").split("_")[0].lower() == base for language in spoken)


def route(question: QuestionFacts, staff: Iterable[StaffSnapshot], workloads: Mapping[int, Workload],
          today: date, *, exclude: Iterable[int] = ()) -> Decision | None:
    """Choose who answers ``question`` (see the module's docstring); None when nobody at all is in.

    ``exclude`` leaves people out, for re-routing away from someone (out of office, or reassigned).
    """
    excluded = set(exclude)
    present = [person for person in staff if person.available_on(today) and person.id not in excluded]
    candidates = [person for person in present if question.topic in person.topics]
    reasons: list[str] = [TOPIC]
    if not candidates:
        candidates, reasons = present, [ANY_TOPIC]
    if not candidates:
        return None

    current = next((p for p in candidates if p.id == question.current_staff_id), None)
    speakers = [p for p in candidates if language_matches(p.languages, question.language)]
    if current is not None:
        chosen = current
        reasons.insert(0, CONTINUITY)
        needs_interpreter = not language_matches(current.languages, question.language)
        if not needs_interpreter:
            reasons.insert(1, LANGUAGE)
    else:
        needs_interpreter = not speakers
        pool = speakers or candidates
        reasons.insert(0, INTERPRETER if needs_interpreter else LANGUAGE)
        if question.department:
            covering = [p for p in pool if question.department in p.departments]
            if covering:
                pool = covering
                reasons.append(DEPARTMENT)
        chosen = min(pool, key=lambda p: _load_order(p, workloads))
        reasons.append(WORKLOAD)
    load = workloads.get(chosen.id, Workload())
    return Decision(chosen.id, tuple(reasons), needs_interpreter, load.count)


def _load_order(person: StaffSnapshot, workloads: Mapping[int, Workload]) -> tuple[int, int, int]:
    load = workloads.get(person.id, Workload())
    return (load.weighted, load.count, person.id)
