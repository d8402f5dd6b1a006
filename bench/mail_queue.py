"""Benchmark background email: what a page pays to queue one, what it would pay to send it itself, and how
fast the worker empties the queue.

Builds a fresh SQLite database and queue file in a temporary folder and starts a local SMTP server (aiosmtpd)
that takes ``BENCH_SMTP_DELAY`` seconds per message (default 0.2, a slow provider). Then prints:

- p50/p95 of queueing one email the way a page does (store it in the outbox, commit, hand it to the queue);
- p50/p95 of sending one email directly to the same server (what the page would wait without the queue);
- how long ``flask --app portal worker --workers N`` takes to send ``BENCH_MAILS`` queued emails (default
  200), in emails per second, for N = 1 and 4.

Asserts nothing. Usage: ``make bench`` or ``.venv/bin/python bench/mail_queue.py``.
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, free_port, ms, percentile  # bench/ is on the path

import flask_migrate  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.mail import send_mail  # noqa: E402
from portal.outbox.models import SENT, OutgoingMail  # noqa: E402
from portal.outbox.services import queue_mail  # noqa: E402

MAILS = int(os.environ.get("BENCH_MAILS", "200"))
SMTP_DELAY = float(os.environ.get("BENCH_SMTP_DELAY", "0.2"))  # not money: seconds


class SlowServer:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        await asyncio.sleep(SMTP_DELAY)
        self.received += 1
        return "250 OK"








def main() -> None:
    workdir = tempfile.mkdtemp(prefix="portal-bench-mail-")
    port = free_port()
    handler = SlowServer()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.sqlite3",
                "HUEY_SQLITE_PATH": f"{workdir}/queue.sqlite3", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                "SECRET_KEY": "bench-secret-key-long-enough-0123456789"}
    app = create_app(settings)
    body = "Hello,\n\nThe billing office has answered your question.\n\nhttp://localhost/questions/x\n" * 3
    try:
        with app.app_context():
            flask_migrate.upgrade(directory=os.path.join(ROOT, "portal", "migrations"))
            huey = app.extensions["task_queue"].huey
            print(f"Email: {MAILS} emails, SMTP server answering in {SMTP_DELAY:.2f} s each, SQLite outbox and queue")
            direct = []
            for _ in range(10):
                started = time.perf_counter()
                send_mail("pat@example.org", "Direct", body)
                direct.append(time.perf_counter() - started)
            for workers in (1, 4):
                db.session.execute(delete(OutgoingMail))
                db.session.commit()
                huey.flush()
                queued = []
                for i in range(MAILS):
                    started = time.perf_counter()
                    queue_mail(f"patient{i}@example.org", "You have a reply", body, kind="question_reply")
                    db.session.commit()
                    queued.append(time.perf_counter() - started)
                if workers == 1:
                    print(f"  queue one email (outbox row, commit, queue): p50 {ms(statistics.median(queued))}, "
                          f"p95 {ms(percentile(queued, 0.95))}")
                    print(f"  send one email directly:                      p50 {ms(statistics.median(direct))}, "
                          f"p95 {ms(percentile(direct, 0.95))}")
                env = dict(os.environ, **{f"PORTAL_{k}": str(v) for k, v in settings.items()})
                started = time.perf_counter()
                worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker", "--workers",
                                           str(workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                try:
                    while True:
                        db.session.expire_all()
                        sent = db.session.scalar(select(func.count()).where(OutgoingMail.status == SENT))
                        if sent >= MAILS or time.perf_counter() - started > 600:
                            break
                        time.sleep(0.05)
                    elapsed = time.perf_counter() - started
                finally:
                    worker.terminate()
                    worker.wait(timeout=30)
                print(f"  worker with {workers} thread(s): {sent} sent in {elapsed:.1f} s "
                      f"({sent / elapsed:.1f} emails/s, including the worker's start)")
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
