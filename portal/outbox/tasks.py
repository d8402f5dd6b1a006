"""The outbox's background tasks: send one mail, and sweep up any the queue lost."""
from __future__ import annotations

from huey import crontab
from huey.exceptions import RetryTask

from ..background import TaskQueue
from . import services


def register(queue: TaskQueue) -> None:
    @queue.task(services.DELIVER_TASK)
    def deliver(mail_id: int) -> None:
        try:
            services.deliver(mail_id)
        except services.RetryLater as later:
            # The outbox counts the attempts and gives up in the end; huey only waits and runs it again.
            raise RetryTask(delay=later.delay) from later

    @queue.periodic("mail.sweep", crontab(minute="*/5"))
    def sweep() -> None:
        services.sweep()
