"""Background work on huey, so that nothing slow (a mail server above all) happens while a page waits.

The queue lives in a SQLite file in the instance folder by default and in Redis when
``PORTAL_HUEY_REDIS_URL`` is set (the production path: several app servers, one queue). The tasks run in
``flask --app portal worker``, which ``make run`` starts beside the portal. Tests set ``HUEY_IMMEDIATE``, which
runs each task at once in the calling process.

Tasks are registered per app (each app has its own queue and settings); a task runs in an app context of
the app that registered it.
"""
from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable

import click
import redis
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

log = logging.getLogger("portal.background")


def make_huey(app: Flask) -> Huey:
    config = app.config
    name = config.get("HUEY_NAME") or "portal"
    if config.get("HUEY_IMMEDIATE"):
        return MemoryHuey(name, immediate=True, results=False)
    if config.get("HUEY_REDIS_URL"):
        # Time limits, so that a Redis that has gone quiet cannot hold a page: queueing then fails, is
        # logged, and the outbox's sweep sends the mail later. (The worker waits up to a second per read.)
        pool = redis.ConnectionPool.from_url(config["HUEY_REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)
        return RedisHuey(name, connection_pool=pool, results=False)
    path = config.get("HUEY_SQLITE_PATH")
    if not path:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "huey.sqlite3")
    return SqliteHuey(name, filename=os.path.abspath(path), results=False)


class TaskQueue:
    """An app's huey queue and the tasks registered on it, by name."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.huey = make_huey(app)
        self.tasks: dict[str, TaskWrapper] = {}

    def _in_app(self, function: Callable) -> Callable:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.app.app_context():
                return function(*args, **kwargs)
        return run

    def task(self, name: str, **options: Any) -> Callable:
        """Register ``function`` as the task ``name``; calling ``enqueue(name, ...)`` queues it."""
        def register(function: Callable) -> Callable:
            self.tasks[name] = self.huey.task(name=name, **options)(self._in_app(function))
            return function
        return register

    def periodic(self, name: str, schedule: Callable) -> Callable:
        """Register ``function`` to run whenever ``schedule`` (a huey crontab) says, in the worker.

        Every worker process schedules it; a lock in the queue's store lets one run at a time and the others
        skip that turn. A worker clears the locks when it starts, in case one died holding them."""
        def register(function: Callable) -> Callable:
            in_app = self._in_app(function)
            lock = self.huey.lock_task(name)

            @functools.wraps(function)
            def one_at_a_time() -> Any:
                with lock:
                    return in_app()

            self.tasks[name] = self.huey.periodic_task(schedule, name=name)(one_at_a_time)
            return function
        return register


def task_queue(app: Flask | None = None) -> TaskQueue:
    return (app or current_app).extensions["task_queue"]


def enqueue(name: str, *args: Any) -> None:
    """Queue the task ``name``. Call after the commit that stored what the task needs."""
    task_queue().tasks[name](*args)


def init_app(app: Flask) -> None:
    queue = TaskQueue(app)
    app.extensions["task_queue"] = queue

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
                  help="How many tasks may run at once (threads).")
    def worker_command(workers: int) -> None:
        """Run queued and scheduled work: emails, retries, re-routing questions when staff go on leave."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if queue.huey.immediate:
            raise click.ClickException("HUEY_IMMEDIATE is set: tasks already run where they are queued")
        click.echo(f"Worker for {type(queue.huey).__name__} with {workers} thread(s); stop with Ctrl+C.")
        consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                              check_worker_health=True, flush_locks=True)
        # SIGINT lets running tasks finish (a mail half sent is not sent twice); SIGTERM stops at once.
        consumer.run()
