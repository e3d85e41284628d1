"""`cadenza bench email`: email steps end to end to a local SMTP server, and sender pacing."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, synthetic_contacts
from cadenza.clock import FixedClock, SystemClock
from cadenza.core.lint import lint_text
from cadenza.engine.dispatcher import Dispatcher
from cadenza.engine.worker import Worker
from cadenza.errors import BenchmarkFailed
from cadenza.services import enrollments, sequences
from cadenza.settings import Settings
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact, Message, Sender

T0 = datetime.fromisoformat("2026-12-01T15:00:00+00:00")
GOAL_PER_SECOND = 500
PACING_TOLERANCE = 0.05
SEQUENCE = """
name: Bench email
senders: {email: "bench@cadenza.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: hello
    action: email
    subject: "A quick question, {{ contact.first_name }}"
    track: {opens: true, clicks: true}
    body: |
      <p>Hi {{ contact.first_name }},</p>
      <p>We help teams like {{ contact.company | default('yours', true) }} follow up on time.
      Would a <a href="https://cadenza.example/demo">short demo</a> help?</p>
      <p>Best,<br>The Cadenza team</p>
"""


@dataclass
class EmailFigures:
    backend: str
    emails: int
    render_s: float = 0.0
    send_s: float = 0.0
    ceiling_per_s: float = 0.0
    pacing_rate: float = 0.0
    pacing_measured: float = 0.0

    @property
    def per_second(self) -> float:
        total = self.render_s + self.send_s
        return self.emails / total if total else 0.0

    @property
    def pacing_error(self) -> float:
        return self.pacing_measured / self.pacing_rate - 1 if self.pacing_rate else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def smtp_sink() -> Iterator[int]:
    """aiosmtpd's discarding handler in its own process: the server must not share our GIL."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(
    backend: str, emails: int, concurrency: int, pacing_rate: int, pg_url: str | None = None
) -> EmailFigures:
    """Measure email steps end to end, the raw SMTP ceiling, and pacing accuracy."""
    figures = EmailFigures(backend, emails)
    kwargs = {"pg_url": pg_url} if pg_url else {}
    with smtp_sink() as port, fresh_database(backend, "email", **kwargs) as url:
        settings = Settings(
            environment="test",
            database_url=url,
            smtp_port=port,
            dispatch_concurrency=concurrency,
            base_url="https://c.example",
        )
        engine = make_engine(url)
        sessions = session_factory(engine)
        try:
            _prepare(sessions, emails, settings)
            _end_to_end(sessions, settings, figures)
            figures.ceiling_per_s = _ceiling(port, emails, concurrency)
            _pacing(sessions, settings, figures, pacing_rate)
        finally:
            engine.dispose()
    return figures


def _prepare(sessions: sessionmaker[Session], count: int, settings: Settings) -> None:
    definition, problems = lint_text(SEQUENCE, "bench.yaml")
    assert definition is not None and not problems
    with writing(sessions) as session:
        sequences.apply_definition(session=session, definition=definition, source=SEQUENCE, now=T0)
        ids = synthetic_contacts(session, count, T0, company=True)
        enrollments.enroll(
            session=session, sequence="Bench email", contact_ids=ids, now=T0, settings=settings
        )


def _end_to_end(sessions: sessionmaker[Session], settings: Settings, figures: EmailFigures) -> None:
    clock = FixedClock(T0)
    started = time.perf_counter()
    Worker(sessions, clock, settings, batch_size=500).drain()
    figures.render_s = time.perf_counter() - started
    dispatcher = Dispatcher(sessions, clock, settings, batch_size=200)
    started = time.perf_counter()
    sent = dispatcher.drain()
    figures.send_s = time.perf_counter() - started
    dispatcher.close()
    if sent != figures.emails:
        raise BenchmarkFailed(f"sent {sent} of {figures.emails} emails")


def _ceiling(port: int, count: int, concurrency: int) -> float:
    """Prebuilt messages over `concurrency` persistent connections: what SMTP itself allows."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", "hi"
    message.set_content("Hello " * 60)
    data = message.as_bytes()
    local = threading.local()

    def send(_i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = smtplib.SMTP("127.0.0.1", port)
        conn.sendmail("a@x.example", ["b@x.example"], data)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(count)))
    return count / (time.perf_counter() - started)


def _pacing(
    sessions: sessionmaker[Session], settings: Settings, figures: EmailFigures, rate: int
) -> None:
    """Queue more than the window can take for a sender paced at `rate`/s; count what went."""
    clock = SystemClock()
    window = 5.0
    with writing(sessions) as session:
        session.add(Sender(kind="email", address="paced@cadenza.example", per_second=rate))
        contact_id = session.execute(select(Contact.id).limit(1)).scalar_one()
        now = clock.now()
        session.execute(
            insert(Message),
            [
                {
                    "key": f"pace:{i}",
                    "contact_id": contact_id,
                    "channel": "email",
                    "sender": "paced@cadenza.example",
                    "recipient": "pat0@bench.example",
                    "subject": "paced",
                    "body": "<p>paced</p>",
                    "meta": {},
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i in range(int(rate * window * 2))
            ],
        )
    dispatcher = Dispatcher(sessions, clock, settings, batch_size=max(10, rate // 2))
    start = clock.now().replace(microsecond=0) + timedelta(seconds=1)
    while clock.now() < start:
        time.sleep(0.01)
    end = start + timedelta(seconds=window)
    while clock.now() < end:
        if dispatcher.tick()[0] == 0:
            time.sleep(0.01)
    dispatcher.close()
    with sessions() as session:
        sent = session.execute(
            select(func.count())
            .select_from(Message)
            .where(
                Message.sender == "paced@cadenza.example",
                Message.status == "sent",
                Message.sent_at >= start,
                Message.sent_at < end,
            )
        ).scalar_one()
    figures.pacing_rate, figures.pacing_measured = rate, sent / window
