"""The scheduled run that charges plans' cards, sends their notices and schedules autopay."""
from __future__ import annotations

import logging

from huey import crontab

from ..background import TaskQueue
from . import charging

log = logging.getLogger("portal.plans")


def run_plans() -> charging.RunReport:
    report = charging.run()
    if report.notices or report.paid or report.refused or report.autopay_scheduled:
        log.info("payment plans: %d notice(s), %d paid, %d refused, %d broken, %d autopay scheduled",
                 report.notices, len(report.paid), len(report.refused), len(report.broken),
                 report.autopay_scheduled)
    return report


def register(queue: TaskQueue) -> None:
    # Every quarter of an hour: a charge falls due at midnight on the hospital's calendar whatever its offset
    # from UTC, and a try a stopped worker left unfinished is taken up again soon after.
    queue.periodic("plans.run", crontab(minute="*/15"))(run_plans)
