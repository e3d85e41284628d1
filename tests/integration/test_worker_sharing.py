"""On SQLite the worker shares the one write lock with the API: while other writers queue for
it, its transactions are short (a request waits for a few enrollments, not 500); alone, its
batches are full."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from cadenza.clock import FixedClock
from cadenza.engine.worker import SMALLEST_BATCH, Worker
from cadenza.services import enrollments
from cadenza.store.db import write_gate
from cadenza.store.models import Enrollment
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

ONE_STEP = """
name: Shared
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: done}
"""
START = at("2026-12-01T12:00:00Z")


def _enroll(db: Database, count: int) -> None:
    with write(db) as session:
        store(session, ONE_STEP, START)
        ids = [add_contact(session, START, email=f"s{i}@example.com") for i in range(count)]
        enrollments.enroll(
            session=session, sequence="Shared", contact_ids=ids, now=START, settings=SETTINGS
        )


def _completed(db: Database) -> int:
    with db.sessions() as session:
        query = select(func.count()).where(Enrollment.status == "completed")
        return int(session.scalar(query.select_from(Enrollment)) or 0)


def _a_writer_queues(db: Database) -> None:
    """Another writer of this process waits for the write lock while the test holds it."""
    entered = threading.Event()

    def other() -> None:
        entered.set()
        with write(db):
            pass

    with write(db):
        thread = threading.Thread(target=other)
        thread.start()
        entered.wait()
        gate = write_gate(db.engine)
        assert gate is not None
        while not gate.contended(1.0):
            threading.Event().wait(0.005)
    thread.join()


def test_the_worker_writes_short_transactions_while_others_wait_to_write(
    sqlite_db: Database,
) -> None:
    _enroll(sqlite_db, 1200)
    worker = Worker(sqlite_db.sessions, FixedClock(START), SETTINGS, batch_size=500)

    assert worker.tick() == 500  # alone: a full batch
    _a_writer_queues(sqlite_db)
    shared = worker.tick()
    assert SMALLEST_BATCH <= shared < 500
    assert _completed(sqlite_db) == 500 + shared

    assert worker.drain() == 1200 - 500 - shared  # the rest, all of it
    assert _completed(sqlite_db) == 1200
