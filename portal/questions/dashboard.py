"""The supervisor's view of the billing office: who has what, what is late, how fast first replies come,
and how evenly the work is spread."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from ..billing.models import as_utc
from ..extensions import db
from .models import RESOLVED, Question, StaffProfile
from .services import organisation_day, snapshot, staff_profiles, utcnow


@dataclass
class PersonRow:
    profile: StaffProfile
    open: int = 0
    overdue: int = 0
    first_replies: list[timedelta] = field(default_factory=list)
    away_today: bool = False

    @property
    def median_first_reply(self) -> timedelta | None:
        return statistics.median(self.first_replies) if self.first_replies else None


@dataclass
class Dashboard:
    people: list[PersonRow]
    open: int
    overdue: int
    unassigned: int
    median_first_reply: timedelta | None
    open_by_topic: Counter
    asked_by_topic: Counter

    @property
    def spread(self) -> tuple[int, int] | None:
        """The most and the fewest open questions held by anyone active and in today."""
        counts = [row.open for row in self.people if row.profile.active and not row.away_today]
        return (max(counts), min(counts)) if counts else None


def dashboard(now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    people = {p.user_id: PersonRow(p) for p in staff_profiles()}
    questions = db.session.scalars(select(Question)).all()
    all_replies: list[timedelta] = []
    open_by_topic: Counter = Counter()
    asked_by_topic: Counter = Counter()
    open_count = overdue = unassigned = 0
    for question in questions:
        asked_by_topic[question.topic] += 1
        row = people.get(question.assigned_staff_id)
        if question.first_reply_at is not None:
            waited = as_utc(question.first_reply_at) - as_utc(question.created_at)
            all_replies.append(waited)
            if row is not None:
                row.first_replies.append(waited)
        if question.status == RESOLVED:
            continue
        open_count += 1
        open_by_topic[question.topic] += 1
        late = question.overdue(now)
        overdue += late
        if row is None:
            unassigned += 1
            continue
        row.open += 1
        row.overdue += late
    if questions:
        today = organisation_day(questions[0].statement.account.organisation, now)
    else:
        today = now.date()
    for row in people.values():
        row.away_today = snapshot(row.profile).away_on(today)
    return Dashboard(list(people.values()), open_count, overdue, unassigned,
                     statistics.median(all_replies) if all_replies else None, open_by_topic, asked_by_topic)
