"""Idle workers on PostgreSQL wake on NOTIFY when a step is made due now, not at their poll."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from cadenza.clock import SystemClock
from cadenza.engine.worker import Worker
from cadenza.services import enrollments
from cadenza.store.models import Event
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, store, write

TAG_NOW = """
name: Tag now
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: woken}
"""
# Far longer than the bound asserted below: only a notification can explain a quick step.
POLL = 10.0


def _executed(db: Database) -> int:
    with db.sessions() as session:
        query = select(func.count()).select_from(Event).where(Event.type == "step_executed")
        return session.execute(query).scalar_one()


def _enroll_and_wait(db: Database, contact: int, executed: int) -> float:
    """Enroll a contact; the seconds until its first step has run."""
    started = time.perf_counter()
    with write(db) as session:
        report = enrollments.enroll(
            session=session,
            sequence="Tag now",
            contact_ids=[contact],
            now=SystemClock().now(),
            settings=SETTINGS,
        )
    assert len(report.enrolled) == 1
    while _executed(db) == executed and time.perf_counter() - started < POLL:
        time.sleep(0.005)
    return time.perf_counter() - started


def test_an_enrollment_due_now_runs_at_once_on_idle_workers(pg_db: Database) -> None:
    now = SystemClock().now()
    with write(pg_db) as session:
        store(session, TAG_NOW, now)
        contacts = [add_contact(session, now, email=f"c{n}@example.com") for n in range(3)]
    stop = threading.Event()
    workers = [Worker(pg_db.sessions, SystemClock(), SETTINGS, name=f"w{n}") for n in (1, 2)]
    threads = [threading.Thread(target=w.run, args=(stop, POLL)) for w in workers]
    for thread in threads:
        thread.start()
    waits = []
    try:
        for done, contact in enumerate(contacts):
            time.sleep(0.5)  # both workers have ticked, found nothing and gone idle
            waits.append(_enroll_and_wait(pg_db, contact, done))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=POLL + 5)
    print("steps ran " + ", ".join(f"{w * 1000:.0f}" for w in waits) + " ms after enrolling")
    assert _executed(pg_db) == len(contacts)
    assert max(waits) < 1.0
