"""Routing rules, as a table of cases and as properties over random offices (hypothesis)."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.questions.routing import (ANY_TOPIC, CONTINUITY, DEPARTMENT, INTERPRETER, LANGUAGE, TOPIC,
                                      TOPIC_WEIGHTS, WORKLOAD, QuestionFacts, StaffSnapshot, Workload,
                                      language_matches, route)

TODAY = date(2026, 12, 2)
TOPICS = sorted(TOPIC_WEIGHTS)
LANGUAGES = ["en", "es", "zh_Hans", "vi", "ar", "bg"]
DEPARTMENTS = ["Emergency", "Radiology", "Laboratory", "Inpatient"]


def person(id: int, languages=("en",), topics=tuple(TOPICS), departments=(), **fields) -> StaffSnapshot:
    return StaffSnapshot(id=id, name=f"Staff {id}", languages=frozenset(languages), topics=frozenset(topics),
                         departments=frozenset(departments), **fields)


# --- The rules, case by case ------------------------------------------------------------------------------

CASES = [
    # (what it shows, staff, workloads, question, exclude, expected id, expected reasons, interpreter)
    ("the least open work wins", [person(1), person(2)], {1: Workload(4, 2), 2: Workload(2, 1)},
     QuestionFacts("charges", "en"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("ties go to the lowest id", [person(2), person(1)], {}, QuestionFacts("charges", "en"), (), 1,
     (LANGUAGE, TOPIC, WORKLOAD), False),
    ("weighted work before the count", [person(1), person(2)], {1: Workload(3, 1), 2: Workload(2, 2)},
     QuestionFacts("refund", "en"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("a speaker of the language over less work", [person(1), person(2, ("en", "es"))], {2: Workload(9, 5)},
     QuestionFacts("insurance", "es"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("zh_Hans answers zh", [person(1), person(2, ("zh_Hans",))], {}, QuestionFacts("other", "zh"), (), 2,
     (LANGUAGE, TOPIC, WORKLOAD), False),
    ("nobody speaks it: an interpreter", [person(1), person(2)], {1: Workload(1, 1)},
     QuestionFacts("other", "ar"), (), 2, (INTERPRETER, TOPIC, WORKLOAD), True),
    ("the patient keeps their person", [person(1), person(2)], {1: Workload(9, 9)},
     QuestionFacts("charges", "en", current_staff_id=1), (), 1, (CONTINUITY, LANGUAGE, TOPIC), False),
    ("continuity even across languages", [person(1), person(2, ("en", "es"))], {},
     QuestionFacts("charges", "es", current_staff_id=1), (), 1, (CONTINUITY, TOPIC), True),
    ("not when their person is away", [person(1, away_from=TODAY), person(2)], {},
     QuestionFacts("charges", "en", current_staff_id=1), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("not when their person lacks the topic", [person(1, topics=("refund",)), person(2)], {},
     QuestionFacts("charges", "en", current_staff_id=1), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("the line's department preferred", [person(1), person(2, departments=("Radiology",))], {2: Workload(5, 3)},
     QuestionFacts("charges", "en", department="Radiology"), (), 2, (LANGUAGE, TOPIC, DEPARTMENT, WORKLOAD),
     False),
    ("language before department", [person(1, departments=("Radiology",)), person(2, ("es",))], {},
     QuestionFacts("charges", "es", department="Radiology"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("only those with the topic", [person(1, topics=("refund",)), person(2, topics=("insurance",))],
     {2: Workload(9, 9)}, QuestionFacts("insurance", "en"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("nobody has the topic: anyone present", [person(1, topics=("refund",)), person(2, topics=("refund",))],
     {1: Workload(1, 1)}, QuestionFacts("insurance", "en"), (), 2, (LANGUAGE, ANY_TOPIC, WORKLOAD), False),
    ("never the inactive", [person(1, active=False), person(2)], {2: Workload(9, 9)},
     QuestionFacts("charges", "en"), (), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("away until yesterday is back", [person(1, away_until=TODAY - timedelta(days=1)), person(2)],
     {2: Workload(1, 1)}, QuestionFacts("charges", "en"), (), 1, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("away from tomorrow is still in", [person(1, away_from=TODAY + timedelta(days=1)), person(2)],
     {2: Workload(1, 1)}, QuestionFacts("charges", "en"), (), 1, (LANGUAGE, TOPIC, WORKLOAD), False),
    ("re-routing leaves the person out", [person(1), person(2)], {2: Workload(9, 9)},
     QuestionFacts("charges", "en", current_staff_id=1), (1,), 2, (LANGUAGE, TOPIC, WORKLOAD), False),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_routing_rule(case):
    _, staff, workloads, question, exclude, expected, reasons, interpreter = case
    decision = route(question, staff, workloads, TODAY, exclude=exclude)
    assert decision is not None
    assert (decision.staff_id, decision.reasons, decision.needs_interpreter) == (expected, reasons, interpreter)
    assert decision.open_questions == workloads.get(expected, Workload()).count


def test_nobody_in_gives_no_decision():
    staff = [person(1, active=False), person(2, away_from=TODAY - timedelta(days=3), away_until=TODAY)]
    assert route(QuestionFacts("charges", "en"), staff, {}, TODAY) is None
    assert route(QuestionFacts("charges", "en"), [], {}, TODAY) is None


# --- Properties over random offices -------------------------------------------------------------------------

@st.composite
def offices(draw) -> list[StaffSnapshot]:
    size = draw(st.integers(min_value=1, max_value=8))
    staff = []
    for id in range(1, size + 1):
        away = draw(st.sampled_from(["no", "now", "past", "future"]))
        days = {"no": (None, None), "now": (TODAY - timedelta(days=1), TODAY + timedelta(days=2)),
                "past": (TODAY - timedelta(days=9), TODAY - timedelta(days=2)),
                "future": (TODAY + timedelta(days=2), None)}[away]
        staff.append(StaffSnapshot(
            id=id * 7, name=f"Staff {id}",
            languages=frozenset(draw(st.sets(st.sampled_from(LANGUAGES), min_size=1, max_size=3))),
            topics=frozenset(draw(st.sets(st.sampled_from(TOPICS), min_size=1))),
            departments=frozenset(draw(st.sets(st.sampled_from(DEPARTMENTS), max_size=2))),
            active=draw(st.booleans()) or id == 1, away_from=days[0], away_until=days[1]))
    return staff


questions = st.builds(QuestionFacts, topic=st.sampled_from(TOPICS), language=st.sampled_from(LANGUAGES),
                      department=st.none() | st.sampled_from(DEPARTMENTS),
                      current_staff_id=st.none() | st.sampled_from([7, 14, 21, 28, 99]))


@st.composite
def workloads_for(draw, staff) -> dict[int, Workload]:
    loads = {}
    for person_ in staff:
        count = draw(st.integers(min_value=0, max_value=12))
        loads[person_.id] = Workload(count * draw(st.integers(min_value=1, max_value=3)), count)
    return loads


@settings(max_examples=300, deadline=None)
@given(data=st.data(), staff=offices(), question=questions)
def test_routing_properties(data, staff, question):
    workloads = data.draw(workloads_for(staff))
    decision = route(question, staff, workloads, TODAY)
    present = [p for p in staff if p.active and not p.away_on(TODAY)]
    if not present:
        assert decision is None
        return
    chosen = next(p for p in staff if p.id == decision.staff_id)
    # Never an inactive or out-of-office person.
    assert chosen.active and not chosen.away_on(TODAY)
    with_topic = [p for p in present if question.topic in p.topics]
    # Someone with the topic when anyone has it.
    assert (question.topic in chosen.topics) or not with_topic
    candidates = with_topic or present
    current = next((p for p in candidates if p.id == question.current_staff_id), None)
    if current is not None:
        # Continuity holds whenever the patient's person can take it.
        assert chosen.id == current.id
        return
    speakers = [p for p in candidates if language_matches(p.languages, question.language)]
    # Language holds whenever someone can: else it is recorded as needing an interpreter.
    assert language_matches(chosen.languages, question.language) == bool(speakers)
    assert decision.needs_interpreter == (not speakers)
    pool = speakers or candidates
    covering = [p for p in pool if question.department and question.department in p.departments]
    if covering:
        assert question.department in chosen.departments
        pool = covering
    # The least loaded of the pool it was chosen from.
    least = min((workloads[p.id].weighted, workloads[p.id].count) for p in pool)
    assert (workloads[chosen.id].weighted, workloads[chosen.id].count) == least
    # The same facts give the same person, whatever order the staff are listed in.
    shuffled = list(staff)
    random.Random(len(staff)).shuffle(shuffled)
    assert route(question, shuffled, workloads, TODAY) == decision


@settings(max_examples=200, deadline=None)
@given(size=st.integers(min_value=2, max_value=7), topics=st.lists(st.sampled_from(TOPICS), min_size=1,
                                                                  max_size=60),
       same_topic=st.booleans())
def test_equal_staff_share_the_work_evenly(size, topics, same_topic):
    staff = [person(id) for id in range(1, size + 1)]
    workloads: dict[int, Workload] = {p.id: Workload() for p in staff}
    for topic in topics:
        topic = topics[0] if same_topic else topic
        decision = route(QuestionFacts(topic, "en"), staff, workloads, TODAY)
        workloads[decision.staff_id] = workloads[decision.staff_id].plus(topic)
    weighted = [load.weighted for load in workloads.values()]
    counts = [load.count for load in workloads.values()]
    # Open work, weighted by topic, never differs by more than one question's weight; with one topic, the
    # number of open questions never differs by more than one.
    assert max(weighted) - min(weighted) <= max(TOPIC_WEIGHTS.values())
    if same_topic:
        assert max(counts) - min(counts) <= 1
