"""`cadenza worker` on SIGTERM: the batch in hand commits, then the process exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import func, select

from cadenza.services import enrollments
from cadenza.store.models import Enrollment, Event
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, at, bulk_contacts, cadenza_command, store, write

TAG = """
name: Drain
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: seen}
"""
START = at("2026-12-01T12:00:00Z")
COUNT = 3000


def test_sigterm_lets_the_worker_finish_its_batch_and_exit(db: Database) -> None:
    with write(db) as session:
        store(session, TAG, START)
        ids = bulk_contacts(session, COUNT, START)
        enrollments.enroll(
            session=session, sequence="Drain", contact_ids=ids, now=START, settings=SETTINGS
        )
    env = {**os.environ, "CADENZA_DATABASE_URL": db.url, "CADENZA_ENVIRONMENT": "test"}
    worker = subprocess.Popen(
        cadenza_command("worker", "--no-send", "--batch", "100", "--now", "2026-12-01T12:05:00Z"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with db.sessions() as session:  # wait until it is working, then stop it mid-burst
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            query = select(func.count()).select_from(Event).where(Event.type == "step_executed")
            if session.execute(query).scalar_one() > 0:
                break
            session.rollback()
            time.sleep(0.02)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr.decode()
    with db.sessions() as session:
        executed = session.execute(
            select(func.count()).select_from(Event).where(Event.type == "step_executed")
        ).scalar_one()
        completed = session.execute(
            select(func.count()).select_from(Enrollment).where(Enrollment.status == "completed")
        ).scalar_one()
    # Every step that ran left its enrollment completed, and nothing ran twice or half.
    assert 0 < executed == completed <= COUNT


def test_a_standalone_worker_serves_its_counters(sqlite_db: Database) -> None:
    import httpx

    from tests.live_server import free_port

    with write(sqlite_db) as session:
        store(session, TAG, START)
        ids = bulk_contacts(session, 50, START)
        enrollments.enroll(
            session=session, sequence="Drain", contact_ids=ids, now=START, settings=SETTINGS
        )
    port = free_port()
    env = {**os.environ, "CADENZA_DATABASE_URL": sqlite_db.url, "CADENZA_ENVIRONMENT": "test"}
    args = ("worker", "--no-send", "--metrics-port", str(port), "--now", "2026-12-01T12:05:00Z")
    worker = subprocess.Popen(
        cadenza_command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        steps = 0.0
        deadline = time.monotonic() + 60
        while steps < 50 and time.monotonic() < deadline:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            line = next(x for x in body.splitlines() if x.startswith("cadenza_steps_total "))
            steps = float(line.split()[1])
            time.sleep(0.1)
        assert steps == 50
        assert "cadenza_batch_seconds_bucket" in body
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert worker.returncode == 0
