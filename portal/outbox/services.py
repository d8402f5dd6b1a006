"""Queueing, sending and retrying email, so that a slow or absent mail server never slows a page or loses
a message.

``queue_mail`` stores the email in the caller's transaction. When that transaction commits, the email is
handed to the background queue; the worker sends it (``deliver``). A failed send is tried again with a
growing wait; after ``MAIL_MAX_ATTEMPTS`` it is marked failed, logged as an error and listed on the
supervisor's dashboard, where it can be sent again. A sweep every few minutes queues anything whose turn
has passed without a worker taking it (the queue was down, or a worker died while sending).
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from ..background import enqueue
from ..billing.models import as_utc, utcnow
from ..extensions import db
from ..mail import send_mail
from .models import FAILED, QUEUED, SENDING, SENT, OutgoingMail

log = logging.getLogger("portal.mail")

DELIVER_TASK = "mail.deliver"
_PENDING = "outbox_pending"
# A mail whose turn passed this long ago, or that a worker took this long ago without finishing, is
# queued again by the sweep.
STALE_AFTER = timedelta(minutes=10)


class RetryLater(Exception):
    """Sending failed for a reason that may pass (the server is down or busy); try again after ``delay``."""

    def __init__(self, delay: timedelta) -> None:
        super().__init__("retry later")
        self.delay = delay


def queue_mail(recipient: str, subject: str, body: str, *, kind: str) -> OutgoingMail:
    """Store an email to send once the current transaction commits."""
    mail = OutgoingMail(kind=kind, recipient=recipient, subject=subject[:300], body=body, status=QUEUED,
                        next_attempt_at=utcnow())
    db.session.add(mail)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).append(mail.id)
    return mail


@event.listens_for(db.session, "after_commit")
def _hand_to_queue(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint was released; the mail is not stored until the outer transaction commits.
        return
    for mail_id in session.info.pop(_PENDING, ()):
        try:
            enqueue(DELIVER_TASK, mail_id)
        except Exception:  # noqa: BLE001 (whatever the queue's store raised, the sweep will send it)
            log.warning("mail %s stored but not queued; the sweep will send it", mail_id, exc_info=True)


@event.listens_for(db.session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    # After a savepoint's rollback the list is kept: an id whose row went with it is skipped when sent.
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: the first delay, doubling each time, at most six hours."""
    first = int(current_app.config["MAIL_RETRY_FIRST_DELAY"])
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), 6 * 3600))


def _claim(mail_id: int, now: datetime) -> bool:
    """Take the mail to send; False when it is not waiting (sent already, or another worker has it)."""
    claimed = db.session.execute(
        update(OutgoingMail).where(OutgoingMail.id == mail_id, OutgoingMail.status == QUEUED)
        .values(status=SENDING, claimed_at=now, attempts=OutgoingMail.attempts + 1)).rowcount
    db.session.commit()
    return bool(claimed)


def _describe(error: Exception) -> str:
    """The server's answer ("421 try later") or the error, short enough to store and show."""
    if isinstance(error, smtplib.SMTPResponseException):
        answer = error.smtp_error
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        return f"{error.smtp_code} {text}"[:500]
    return f"{type(error).__name__}: {error}"[:500]


def deliver(mail_id: int, *, now: datetime | None = None) -> str:
    """Send one queued mail and record the outcome; the mail's status afterwards.

    Raises ``RetryLater`` when the send failed and may be tried again.
    """
    now = (now or utcnow()).astimezone(timezone.utc)
    if not _claim(mail_id, now):
        mail = db.session.get(OutgoingMail, mail_id)
        return mail.status if mail is not None else "missing"
    mail = db.session.get(OutgoingMail, mail_id)
    if mail.kind == "password_reset" and now - as_utc(mail.created_at) > timedelta(
            seconds=int(current_app.config["PASSWORD_RESET_MAX_AGE"])):
        # Its link has expired: sending it now would only confuse. The patient can ask for a new one.
        return _give_up(mail, "the reset link expired before the mail server took it", keep_body=False)
    try:
        send_mail(mail.recipient, mail.subject, mail.body or "")
    except smtplib.SMTPRecipientsRefused as error:
        # The server will never take this address: trying again cannot help.
        return _give_up(mail, _describe(error))
    except Exception as error:  # noqa: BLE001 (a bad setting or header fails the same way: retried, then listed)
        db.session.rollback()
        mail = db.session.get(OutgoingMail, mail_id)
        mail.last_error = _describe(error)
        if mail.attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
            return _give_up(mail, mail.last_error)
        delay = retry_delay(mail.attempts)
        mail.status, mail.next_attempt_at = QUEUED, now + delay
        db.session.commit()
        log.warning("mail %s (%s) not sent on attempt %d, trying again in %s: %s", mail.id, mail.kind,
                    mail.attempts, delay, mail.last_error)
        raise RetryLater(delay) from error
    mail.status, mail.sent_at, mail.last_error = SENT, utcnow(), None
    # Sent mail is not kept: a reset link or a receipt has no business sitting in the database.
    mail.body = None
    db.session.commit()
    return SENT


def _give_up(mail: OutgoingMail, error: str, *, keep_body: bool = True) -> str:
    mail.status, mail.last_error = FAILED, error[:500]
    if not keep_body:
        mail.body = None
    db.session.commit()
    log.error("mail %s (%s) to %s not delivered after %d attempt(s): %s; it is listed on the supervisor's "
              "dashboard", mail.id, mail.kind, mail.recipient, mail.attempts, error)
    return FAILED


def sweep(now: datetime | None = None) -> int:
    """Queue again every mail that should have been tried by now and was not; return how many.

    Each row is re-checked as it is changed (one statement), so a mail a worker takes meanwhile is left to
    it, and several workers may sweep at once.
    """
    # Stored moments are UTC (SQLite keeps no offset), so the comparison is made in UTC too.
    now = (now or utcnow()).astimezone(timezone.utc)
    stale = now - STALE_AFTER
    gave_up = db.session.execute(
        update(OutgoingMail).where(OutgoingMail.status == SENDING, OutgoingMail.claimed_at <= stale,
                                   OutgoingMail.attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]))
        .values(status=FAILED, last_error=func.coalesce(OutgoingMail.last_error, "the worker stopped while sending"))
        .returning(OutgoingMail.id)).scalars().all()
    # A worker that died mid-send leaves the mail "sending"; it goes back in line (it may arrive twice,
    # which beats not at all).
    stuck = db.session.execute(
        update(OutgoingMail).where(or_(
            (OutgoingMail.status == QUEUED) & (OutgoingMail.next_attempt_at <= stale),
            (OutgoingMail.status == SENDING) & (OutgoingMail.claimed_at <= stale)))
        .values(status=QUEUED, next_attempt_at=now).returning(OutgoingMail.id)).scalars().all()
    db.session.info.setdefault(_PENDING, []).extend(sorted(stuck))
    db.session.commit()
    for mail_id in gave_up:
        log.error("mail %s not delivered: a worker stopped while sending it, after its last attempt; it is listed "
                  "on the supervisor's dashboard", mail_id)
    if stuck:
        log.info("queued %d mail(s) again that no worker had taken", len(stuck))
    return len(stuck)


def can_send_again(mail: OutgoingMail) -> bool:
    """A failed mail that still has its text; a password reset never (its link has expired by then)."""
    return mail.status == FAILED and mail.body is not None and mail.kind != "password_reset"


def send_again(mail: OutgoingMail) -> None:
    """A person asks for a failed mail to be tried again, from the start. The caller commits."""
    if not can_send_again(mail):
        return
    mail.status, mail.attempts, mail.next_attempt_at = QUEUED, 0, utcnow()
    db.session.info.setdefault(_PENDING, []).append(mail.id)


def failed_mail(limit: int = 50) -> list[OutgoingMail]:
    return list(db.session.scalars(select(OutgoingMail).where(OutgoingMail.status == FAILED)
                                   .order_by(OutgoingMail.created_at.desc(), OutgoingMail.id.desc()).limit(limit)))


def counts() -> dict[str, int]:
    """How many mails are in each state."""
    rows = db.session.execute(select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)).all()
    return {status: 0 for status in (QUEUED, SENDING, SENT, FAILED)} | dict(rows)
