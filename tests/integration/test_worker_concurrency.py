"""Exactly once under contention and under kill -9: real worker processes on a real database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cadenza.services import enrollments
from cadenza.store.models import Enrollment, Event, Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, at, bulk_contacts, cadenza_command, store, write
from tests.smtp_server import smtp_catcher

THREE_EMAILS = """
name: Load
senders: {email: load@example.com}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: one, action: email, subject: "One", body: "<p>1</p>"}
  - {key: two, action: email, wait: {minutes: 30}, subject: "Two", body: "<p>2</p>"}
  - {key: three, action: email, wait: {minutes: 30}, subject: "Three", body: "<p>3</p>"}
"""
START = at("2026-12-01T12:00:00Z")


def _setup(db: Database, count: int) -> None:
    with write(db) as session:
        store(session, THREE_EMAILS, START)
        ids = bulk_contacts(session, count, START)
        report = enrollments.enroll(
            session=session, sequence="Load", contact_ids=ids, now=START, settings=SETTINGS
        )
        assert len(report.enrolled) == count


def _env(db: Database) -> dict[str, str]:
    return {**os.environ, "CADENZA_DATABASE_URL": db.url, "CADENZA_ENVIRONMENT": "test"}


def _worker(db: Database, when: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cadenza_command("worker", "--once", "--no-send", "--now", when, *extra),
        env=_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _counts(db: Database) -> tuple[int, int, int, int]:
    with db.sessions() as session:
        messages = session.execute(select(func.count()).select_from(Message)).scalar_one()
        keys = session.execute(select(func.count(func.distinct(Message.key)))).scalar_one()
        executed = session.execute(
            select(func.count()).select_from(Event).where(Event.type == "step_executed")
        ).scalar_one()
        done = session.execute(
            select(func.count()).select_from(Enrollment).where(Enrollment.status == "completed")
        ).scalar_one()
    return messages, keys, executed, done


@pytest.mark.slow
def test_four_workers_on_postgresql_execute_every_step_exactly_once(pg_db: Database) -> None:
    count = 20_000
    _setup(pg_db, count)
    for offset in (0, 30, 60):
        when = (START + timedelta(minutes=offset)).isoformat()
        workers = [_worker(pg_db, when) for _ in range(4)]
        for proc in workers:
            _out, errors = proc.communicate(timeout=600)
            assert proc.returncode == 0, errors.decode()
    messages, keys, executed, done = _counts(pg_db)
    assert (messages, keys, executed, done) == (3 * count, 3 * count, 3 * count, count)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(db: Database) -> None:
    count = 6_000
    _setup(db, count)
    victim = _worker(db, START.isoformat(), "--batch", "100")
    deadline = time.monotonic() + 120
    while _counts(db)[0] == 0 and time.monotonic() < deadline:
        assert victim.poll() is None, victim.communicate()[1].decode()[-2000:]
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    partial = _counts(db)[0]
    assert 0 < partial < count, "the kill must land while work remains"
    survivor = _worker(db, START.isoformat())
    _out, errors = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, errors.decode()
    messages, keys, executed, _done = _counts(db)
    assert (messages, keys, executed) == (count, count, count)
    with db.sessions() as session:
        due_two = session.execute(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.step == "two", Enrollment.status == "active")
        ).scalar_one()
    assert due_two == count


ONE_EMAIL = """
name: Load
senders: {email: load@example.com}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: one, action: email, subject: "One", body: "<p>1</p>"}
"""


@pytest.mark.slow
def test_a_dispatcher_killed_while_sending_resends_at_most_what_was_in_flight(
    db: Database,
) -> None:
    count, kills, concurrency = 900, 4, 4
    with write(db) as session:
        store(session, ONE_EMAIL, START)
        ids = bulk_contacts(session, count, START)
        enrollments.enroll(
            session=session, sequence="Load", contact_ids=ids, now=START, settings=SETTINGS
        )
    first = _worker(db, START.isoformat())  # writes the outbox, then no SMTP: keep it queued
    first.communicate(timeout=300)
    with smtp_catcher(delay=0.01) as catcher:
        env = {**_env(db), **catcher.env(), "CADENZA_DISPATCH_CONCURRENCY": str(concurrency)}
        for kill in range(kills):
            # Each run starts an hour after the last: the leases the killed one held expired.
            when = (START + timedelta(hours=kill)).isoformat()
            victim = subprocess.Popen(
                cadenza_command("worker", "--once", "--now", when),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            target = (kill + 1) * count // (kills + 2)
            deadline = time.monotonic() + 120
            while len(catcher.messages) < target and time.monotonic() < deadline:
                assert victim.poll() is None, victim.communicate()[1].decode()[-2000:]
                time.sleep(0.005)
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            assert len(catcher.messages) < count, "each kill must land while mail is going out"
        later = (START + timedelta(hours=kills + 1)).isoformat()
        survivor = subprocess.run(
            cadenza_command("worker", "--once", "--now", later),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert survivor.returncode == 0, survivor.stderr
        ids_received = catcher.by_header("Message-ID")
    with db.sessions() as session:
        statuses = dict(
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        )
    assert statuses == {"sent": count}
    assert len(set(ids_received)) == count  # every message arrived
    doubled = len(ids_received) - count
    # Each result is committed before its sender takes another message: a kill can only
    # repeat what the senders had in hand, one message each, never a whole leased batch.
    assert 0 <= doubled <= kills * concurrency, doubled
