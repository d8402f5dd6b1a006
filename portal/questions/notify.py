"""Telling a patient that the billing office has answered: an email that names no health or billing detail
(no amount, no statement, no service, not even the question's topic), only where to sign in and read it."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from ..auth.models import User
from ..extensions import db
from ..i18n import _
from ..outbox.models import OutgoingMail
from ..outbox.services import queue_mail
from ..urls import public_link
from .models import Question


def reply_recipient(question: Question) -> tuple[str | None, str | None]:
    """The address to tell, and the login's saved language: the address the patient gave with the question,
    else the email of the login that asked. Nobody when the patient asked to be reached by phone (the office
    calls) or gave no address."""
    if question.contact_method != "email":
        return None, None
    asker = db.session.get(User, question.asked_by_user_id) if question.asked_by_user_id else None
    return question.contact_email or (asker.email if asker else None), asker.locale if asker else None


def email_locale(question: Question, login_locale: str | None) -> str:
    """The language the patient asked to be answered in, when the portal speaks it; else their login's."""
    supported = current_app.config["SUPPORTED_LOCALES"]
    for choice in (question.language, login_locale):
        if choice in supported:
            return choice
    return current_app.config["DEFAULT_LOCALE"]


def queue_reply_notice(question: Question) -> OutgoingMail | None:
    """Queue the "you have a reply" email, sent once the reply is committed. None when there is nobody to tell."""
    recipient, login_locale = reply_recipient(question)
    if not recipient:
        return None
    organisation = question.statement.account.organisation
    with force_locale(email_locale(question, login_locale)):
        link = public_link("questions.thread", public_id=question.public_id)
        body = render_template("email/question_reply.txt", link=link, organisation=organisation,
                               guest=question.asked_by_user_id is None)
        subject = _("You have a reply from %(office)s", office=organisation.name)
    return queue_mail(recipient, subject, body, kind="question_reply")
