"""Asking, answering and routing billing questions. Services add and flush; the caller commits.

Routing itself is the pure ``routing.route``; this module gives it the staff, their open work and the
patient's current staff member from the database, and stores its decision with the reasons.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..billing.models import LineItem, Organisation, Statement
from ..extensions import db
from . import routing
from .models import (RESOLVED, WAITING_BILLING, WAITING_PATIENT, Assignment, Question, QuestionMessage,
                     StaffProfile)

MESSAGE_MAX_LENGTH = 4000


class QuestionError(ValueError):
    """A question or reply that cannot be taken as it is (the form shows why)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- When an answer is due -----------------------------------------------------------------------------------

def reply_due(organisation: Organisation, asked_at: datetime) -> datetime:
    """The end of the next business day after ``asked_at``, at the office's closing time, in its time zone."""
    zone = ZoneInfo(organisation.time_zone)
    day = asked_at.astimezone(zone).date()
    days = {int(d) for d in organisation.business_days if d.isdigit()} or {1, 2, 3, 4, 5}
    for _ in range(14):
        day += timedelta(days=1)
        if day.isoweekday() in days:
            break
    return datetime.combine(day, organisation.closes_at, zone).astimezone(timezone.utc)


def organisation_day(organisation: Organisation, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(organisation.time_zone)).date()


# --- Routing from the database -------------------------------------------------------------------------------

def staff_profiles() -> list[StaffProfile]:
    return list(db.session.scalars(
        select(StaffProfile).join(User, StaffProfile.user_id == User.id)
        .where(User.role.in_(("staff", "supervisor"))).order_by(StaffProfile.user_id)))


def snapshot(profile: StaffProfile) -> routing.StaffSnapshot:
    return routing.StaffSnapshot(id=profile.user_id, name=profile.display_name,
                                 languages=frozenset(profile.languages or ()), topics=frozenset(profile.topics or ()),
                                 departments=frozenset(profile.departments or ()), active=profile.active,
                                 away_from=profile.away_from, away_until=profile.away_until)


def open_workloads() -> dict[int, routing.Workload]:
    """Each staff member's open questions, counted and weighted by topic, in one query."""
    rows = db.session.execute(
        select(Question.assigned_staff_id, Question.topic, func.count())
        .where(Question.status != RESOLVED, Question.assigned_staff_id.is_not(None))
        .group_by(Question.assigned_staff_id, Question.topic)).all()
    loads: dict[int, routing.Workload] = defaultdict(routing.Workload)
    for staff_id, topic, count in rows:
        load = loads[staff_id]
        loads[staff_id] = routing.Workload(load.weighted + routing.weight(topic) * count, load.count + count)
    return dict(loads)


def current_staff_id(account_id: int, *, exclude_question: int | None = None) -> int | None:
    """Who last answered this account's questions: the patient's own person at the billing office."""
    query = (select(Question.assigned_staff_id)
             .where(Question.account_id == account_id, Question.assigned_staff_id.is_not(None))
             .order_by(Question.created_at.desc(), Question.id.desc()).limit(1))
    if exclude_question is not None:
        query = query.where(Question.id != exclude_question)
    return db.session.scalar(query)


def account_contact(account_id: int) -> StaffProfile | None:
    """The named person who answers this household's questions (its most recent assignee), if any."""
    staff_id = current_staff_id(account_id)
    return db.session.get(StaffProfile, staff_id) if staff_id is not None else None


def _assign(question: Question, decision: routing.Decision, *, by: User | None = None,
            note: str | None = None) -> Assignment:
    question.assigned_staff_id = decision.staff_id
    question.needs_interpreter = decision.needs_interpreter
    department = question.line_item.visit.department if question.line_item is not None else None
    assignment = Assignment(question=question, staff_user_id=decision.staff_id, assigned_by_user_id=by.id if by else None,
                            note=note, reasons={"codes": list(decision.reasons), "topic": question.topic,
                                                "language": question.language, "department": department,
                                                "open_questions": decision.open_questions})
    db.session.add(assignment)
    return assignment


def route_question(question: Question, *, now: datetime | None = None, exclude: tuple[int, ...] = (),
                   keep_current: bool = True) -> Assignment | None:
    """Give ``question`` to the person routing chooses; None when nobody at all is in (it stays unassigned
    and shows on the supervisor's dashboard)."""
    organisation = question.statement.account.organisation
    department = question.line_item.visit.department if question.line_item is not None else None
    current = current_staff_id(question.account_id, exclude_question=question.id) if keep_current else None
    facts = routing.QuestionFacts(question.topic, question.language, department, current)
    decision = routing.route(facts, [snapshot(p) for p in staff_profiles()], open_workloads(),
                             organisation_day(organisation, now), exclude=exclude)
    if decision is None:
        question.assigned_staff_id = None
        return None
    return _assign(question, decision)


# --- Patients ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewQuestion:
    topic: str
    body: str
    language: str
    contact_method: str
    contact_email: str | None = None
    contact_phone: str | None = None


def clean_body(body: str) -> str:
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise QuestionError("empty")
    if len(text) > MESSAGE_MAX_LENGTH:
        raise QuestionError("too_long")
    return text


def ask(statement: Statement, line: LineItem | None, new: NewQuestion, *, user: User | None,
        now: datetime | None = None) -> Question:
    """Store a patient's question and route it. ``line`` must be on ``statement`` (the view checks access)."""
    if line is not None and line.visit.statement_id != statement.id:
        raise QuestionError("line_not_on_statement")
    now = now or utcnow()
    body = clean_body(new.body)
    question = Question(account_id=statement.account_id, statement=statement, line_item=line, topic=new.topic,
                        status=WAITING_BILLING, language=new.language, contact_method=new.contact_method,
                        contact_email=new.contact_email, contact_phone=new.contact_phone,
                        asked_by_user_id=user.id if user else None, created_at=now,
                        due_at=reply_due(statement.account.organisation, now))
    db.session.add(question)
    db.session.add(QuestionMessage(question=question, author_kind="patient", author_user_id=user.id if user else None,
                                   body=body, created_at=now))
    db.session.flush()
    route_question(question, now=now)
    return question


def patient_reply(question: Question, body: str, *, user: User | None, now: datetime | None = None) -> QuestionMessage:
    """The patient writes again: the question goes back to billing, due by the next business day."""
    now = now or utcnow()
    message = QuestionMessage(question=question, author_kind="patient", author_user_id=user.id if user else None,
                              body=clean_body(body), created_at=now)
    db.session.add(message)
    if question.status != WAITING_BILLING:
        question.status = WAITING_BILLING
        question.resolved_at = None
        question.due_at = reply_due(question.statement.account.organisation, now)
    return message


def questions_for_accounts(account_ids: list[int]) -> list[Question]:
    if not account_ids:
        return []
    return list(db.session.scalars(select(Question).where(Question.account_id.in_(account_ids))
                                   .options(selectinload(Question.statement))
                                   .order_by(Question.created_at.desc(), Question.id.desc())))


# --- Staff ---------------------------------------------------------------------------------------------------------

def staff_reply(question: Question, author: User, body: str, *, internal: bool,
                now: datetime | None = None) -> QuestionMessage:
    """A reply the patient sees (the question then waits for them), or a note only staff see."""
    now = now or utcnow()
    message = QuestionMessage(question=question, author_kind="staff", author_user_id=author.id,
                              body=clean_body(body), internal=internal, created_at=now)
    db.session.add(message)
    if not internal:
        question.first_reply_at = question.first_reply_at or now
        if question.status == WAITING_BILLING:
            question.status = WAITING_PATIENT
    return message


def set_status(question: Question, status: str, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    question.status = status
    question.resolved_at = now if status == RESOLVED else None
    if status == WAITING_BILLING:
        question.due_at = reply_due(question.statement.account.organisation, now)


def reassign(question: Question, to: StaffProfile, *, by: User, note: str) -> Assignment:
    """A person moves the question to ``to``, in their own words."""
    note = (note or "").strip()
    if not note:
        raise QuestionError("reason_needed")
    load = open_workloads().get(to.user_id, routing.Workload())
    decision = routing.Decision(to.user_id, ("reassigned",), not routing.language_matches(to.languages or (),
                                                                                           question.language),
                                load.count)
    return _assign(question, decision, by=by, note=note[:1000])


def reroute_away_from(staff_user_id: int, *, now: datetime | None = None) -> list[Assignment]:
    """Give each open question of someone now out of office (or made inactive) to another person, by the
    same rules; each gets its own new reason."""
    moved = []
    open_questions = db.session.scalars(
        select(Question).where(Question.assigned_staff_id == staff_user_id, Question.status != RESOLVED)
        .order_by(Question.due_at, Question.id)).all()
    for question in open_questions:
        assignment = route_question(question, now=now, exclude=(staff_user_id,), keep_current=False)
        if assignment is not None:
            db.session.flush()
            moved.append(assignment)
    return moved


def reroute_absent_staff(now: datetime | None = None) -> tuple[list[Assignment], list[Assignment]]:
    """Keep every open question with someone who is in: move those of staff whose leave has begun (leave
    recorded in advance starts without anyone touching the roster) or who no longer answer questions, and
    give a person to those nobody could take when they were asked. Returns (moved, newly assigned)."""
    from ..site import current_organisation

    organisation = current_organisation()
    today = organisation_day(organisation, now) if organisation else (now or utcnow()).date()
    available = {p.user_id for p in staff_profiles() if snapshot(p).available_on(today)}
    holders = set(db.session.scalars(select(Question.assigned_staff_id).distinct()
                                     .where(Question.status != RESOLVED, Question.assigned_staff_id.is_not(None))))
    moved = []
    for staff_id in sorted(holders - available):
        moved += reroute_away_from(staff_id, now=now)
    assigned = []
    if available:
        for question in db.session.scalars(select(Question).where(Question.status != RESOLVED,
                                                                  Question.assigned_staff_id.is_(None))
                                           .order_by(Question.due_at, Question.id)).all():
            assignment = route_question(question, now=now)
            if assignment is not None:
                db.session.flush()
                assigned.append(assignment)
    return moved, assigned
