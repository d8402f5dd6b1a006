"""Questions through the services: routing from the database, reasons, due times, replies and re-routing."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from flask import current_app

from portal.extensions import db
from portal.questions import services
from portal.questions.models import RESOLVED, WAITING_BILLING, WAITING_PATIENT, Assignment, StaffProfile
from portal.questions.reasons import reason_sentence
from portal.questions.services import NewQuestion, QuestionError

# A Wednesday, 15:00 in Chicago.
WEDNESDAY = datetime(2026, 12, 2, 21, 0, tzinfo=timezone.utc)


@pytest.fixture
def office(make):
    """Three billing staff: Maria (English, Spanish; insurance, charges; Radiology), James (English; charges,
    refunds), Lan (English, Vietnamese; insurance)."""
    people = {}
    for email, name, languages, topics, departments in [
        ("maria@example.org", "Maria Santos", ["en", "es"], ["insurance", "charges"], ["Radiology"]),
        ("james@example.org", "James O'Connor", ["en"], ["charges", "refund"], []),
        ("lan@example.org", "Lan Nguyen", ["en", "vi"], ["insurance"], []),
    ]:
        user = make.user(email, role="staff")
        db.session.add(StaffProfile(user=user, display_name=name, job_title="Billing specialist",
                                    languages=languages, topics=topics, departments=departments))
        people[name.split()[0]] = user
    db.session.commit()
    return people


def ask(statement, topic="charges", language="en", line=None, now=WEDNESDAY, body="Why was I charged twice?"):
    question = services.ask(statement, line, NewQuestion(topic, body, language, "email", "pat@example.org"),
                            user=None, now=now)
    db.session.commit()
    return question


def sentence(question) -> str:
    assignment = question.assignments[-1]
    profile = db.session.get(StaffProfile, assignment.staff_user_id)
    with current_app.test_request_context():
        return reason_sentence(assignment, profile.display_name)


def test_a_question_goes_to_a_named_person_with_the_reason(make, office):
    statement = make.statement(lines=1)
    question = ask(statement, topic="insurance", language="es")
    assert question.assigned_staff_id == office["Maria"].id
    assert not question.needs_interpreter
    assert question.status == WAITING_BILLING
    assert sentence(question) == "Maria Santos: speaks Spanish, handles insurance questions, and has 0 open questions"


def test_work_is_shared_and_the_household_keeps_its_person(make, office):
    first = ask(make.statement(lines=1), topic="insurance")
    second = ask(make.statement(lines=1), topic="insurance")
    assert {first.assigned_staff_id, second.assigned_staff_id} == {office["Maria"].id, office["Lan"].id}
    again = ask(first.statement, topic="insurance")
    assert again.assigned_staff_id == first.assigned_staff_id
    assert sentence(again).endswith("already answers this household's questions, speaks English, and handles "
                                    "insurance questions")


def test_a_language_nobody_speaks_is_marked_for_an_interpreter(make, office):
    question = ask(make.statement(lines=1), topic="refund", language="ar")
    assert question.assigned_staff_id == office["James"].id and question.needs_interpreter
    assert "needs an interpreter for Arabic" in sentence(question)


def test_a_line_prefers_staff_of_its_department(make, office):
    statement = make.statement(lines=1)
    statement.visits[0].department = "Radiology"
    db.session.commit()
    ask(make.statement(lines=1), topic="charges")  # Maria now has more open work than James
    question = ask(statement, topic="charges", line=statement.visits[0].lines[0])
    assert question.assigned_staff_id == office["Maria"].id
    assert "covers Radiology" in sentence(question)


def test_a_line_of_another_statement_is_refused(make, office):
    statement, other = make.statement(lines=1), make.statement(lines=1)
    with pytest.raises(QuestionError):
        services.ask(statement, other.visits[0].lines[0], NewQuestion("charges", "Why?", "en", "email"), user=None)


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 4001])
def test_empty_or_over_long_messages_are_refused(make, office, body):
    with pytest.raises(QuestionError):
        services.ask(make.statement(lines=1), None, NewQuestion("charges", body, "en", "email"), user=None)


def test_a_reply_is_due_by_the_end_of_the_next_business_day(make):
    organisation = make.organisation()
    assert organisation.opens_at == time(9) and organisation.closes_at == time(17)
    # Wednesday afternoon: Thursday 17:00 Chicago time (23:00 UTC).
    assert services.reply_due(organisation, WEDNESDAY) == datetime(2026, 12, 3, 23, 0, tzinfo=timezone.utc)
    # Friday evening and Saturday: Monday 17:00.
    friday = datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)  # Friday 20:00 in Chicago
    assert services.reply_due(organisation, friday) == datetime(2026, 12, 7, 23, 0, tzinfo=timezone.utc)
    assert services.reply_due(organisation, friday + timedelta(days=1)) == datetime(2026, 12, 7, 23, 0,
                                                                                  tzinfo=timezone.utc)


def test_replies_move_the_question_between_billing_and_the_patient(make, office):
    question = ask(make.statement(lines=1))
    staff = office["Maria"] if question.assigned_staff_id == office["Maria"].id else office["James"]
    services.staff_reply(question, staff, "Checking with radiology.", internal=True)
    assert question.status == WAITING_BILLING and question.first_reply_at is None
    services.staff_reply(question, staff, "It was one scan billed once; see line 1.", internal=False,
                         now=WEDNESDAY + timedelta(hours=1))
    assert question.status == WAITING_PATIENT and question.first_reply_at == WEDNESDAY + timedelta(hours=1)
    services.patient_reply(question, "Thanks, but the date is wrong.", user=None, now=WEDNESDAY + timedelta(days=2))
    assert question.status == WAITING_BILLING
    services.set_status(question, RESOLVED)
    assert question.resolved_at is not None
    db.session.commit()
    assert [m.internal for m in question.messages] == [False, True, False, False]


def test_out_of_office_staff_have_their_open_questions_rerouted(make, office):
    questions = [ask(make.statement(lines=1), topic="insurance") for _ in range(4)]
    maria = office["Maria"]
    hers = [q for q in questions if q.assigned_staff_id == maria.id]
    assert hers
    profile = db.session.get(StaffProfile, maria.id)
    profile.away_from = date(2026, 12, 2)
    moved = services.reroute_away_from(maria.id, now=WEDNESDAY)
    db.session.commit()
    assert len(moved) == len(hers)
    for question in hers:
        assert question.assigned_staff_id == office["Lan"].id
        assert len(question.assignments) == 2
        assert sentence(question).startswith("Lan Nguyen: speaks English, handles insurance questions")
    # A new question from one of those households now goes to Lan too (Maria is away).
    assert ask(hers[0].statement, topic="insurance").assigned_staff_id == office["Lan"].id


def test_a_reassignment_keeps_the_persons_reason(make, office):
    question = ask(make.statement(lines=1), topic="charges")
    supervisor = make.user("boss@example.org", role="supervisor")
    to = db.session.get(StaffProfile, office["Lan"].id)
    with pytest.raises(QuestionError):
        services.reassign(question, to, by=supervisor, note="  ")
    services.reassign(question, to, by=supervisor, note="Lan knows this insurer")
    db.session.commit()
    assert question.assigned_staff_id == office["Lan"].id
    assignment = db.session.query(Assignment).filter_by(question_id=question.id).order_by(Assignment.id).all()[-1]
    with current_app.test_request_context():
        assert reason_sentence(assignment, "Lan Nguyen", "Pat Boss") == \
            "Lan Nguyen: reassigned by Pat Boss: Lan knows this insurer"


def test_nobody_in_leaves_the_question_unassigned(make, office):
    for user in office.values():
        db.session.get(StaffProfile, user.id).active = False
    db.session.commit()
    question = ask(make.statement(lines=1))
    assert question.assigned_staff_id is None and question.assignments == []


def test_leave_recorded_in_advance_moves_questions_when_it_begins(make, office, runner):
    """The worker's quarter-hourly job: nobody has to touch the roster on the day leave starts."""
    questions = [ask(make.statement(lines=1), topic="insurance") for _ in range(4)]
    maria = office["Maria"]
    hers = {q.id for q in questions if q.assigned_staff_id == maria.id}
    assert hers
    profile = db.session.get(StaffProfile, maria.id)
    profile.away_from, profile.away_until = date(2026, 12, 3), date(2026, 12, 4)
    db.session.commit()
    # Wednesday in Chicago: she is still in, nothing moves; nor at 21:00 there, already Thursday in UTC.
    assert services.reroute_absent_staff(now=WEDNESDAY) == ([], [])
    assert services.reroute_absent_staff(now=datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc)) == ([], [])
    # Thursday 00:15 in Chicago (06:15 UTC): her leave has begun.
    moved, assigned = services.reroute_absent_staff(now=datetime(2026, 12, 3, 6, 15, tzinfo=timezone.utc))
    db.session.commit()
    assert {a.question_id for a in moved} == hers and assigned == []
    for question in questions:
        assert question.assigned_staff_id == office["Lan"].id
    assert sentence(questions[0]).startswith("Lan Nguyen: speaks English, handles insurance questions")
    # Run again: nothing more to move.
    assert services.reroute_absent_staff(now=datetime(2026, 12, 3, 6, 30, tzinfo=timezone.utc)) == ([], [])


def test_a_question_nobody_could_take_gets_a_person_when_one_is_in(make, office, runner):
    for user in office.values():
        db.session.get(StaffProfile, user.id).active = False
    db.session.commit()
    question = ask(make.statement(lines=1), topic="refund")
    assert question.assigned_staff_id is None
    db.session.get(StaffProfile, office["James"].id).active = True
    db.session.commit()
    result = runner.invoke(args=["questions", "reroute"])
    assert result.exit_code == 0, result.output
    assert "assigned 1 that were waiting for a person" in result.output
    db.session.expire_all()
    assert db.session.get(type(question), question.id).assigned_staff_id == office["James"].id


def test_questions_of_someone_who_no_longer_answers_move(make, office, runner):
    question = ask(make.statement(lines=1), topic="refund")
    assert question.assigned_staff_id == office["James"].id
    office["James"].role = "patient"
    db.session.commit()
    assert "Moved 1 question(s)" in runner.invoke(args=["questions", "reroute"]).output
    db.session.expire_all()
    question = db.session.get(type(question), question.id)
    # Nobody else handles refunds: someone present takes it rather than nobody, with that reason.
    assert question.assigned_staff_id in (office["Maria"].id, office["Lan"].id)
    assert "any_topic" in question.assignments[-1].reasons["codes"]
