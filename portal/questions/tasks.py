"""Background work for questions: keeping each open question with someone who is in."""
from __future__ import annotations

import logging

from huey import crontab

from ..background import TaskQueue
from ..extensions import db
from . import services

log = logging.getLogger("portal.questions")


def reroute() -> tuple[int, int]:
    moved, assigned = services.reroute_absent_staff()
    db.session.commit()
    if moved or assigned:
        log.info("re-routed %d question(s) of staff away or inactive; assigned %d waiting for a person",
                 len(moved), len(assigned))
    return len(moved), len(assigned)


def register(queue: TaskQueue) -> None:
    # Every quarter of an hour, so that leave starting at midnight in the hospital's time zone (whatever
    # its offset from UTC) moves the questions before the office opens.
    queue.periodic("questions.reroute", crontab(minute="*/15"))(reroute)
