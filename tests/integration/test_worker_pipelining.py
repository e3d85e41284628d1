"""On PostgreSQL a worker sends a batch's writes and COMMIT, and the next batch's claim,
without waiting: a batch that fails after it was sent must be claimed again, not lost, and
a claim sent ahead must not hold up a batch whose writes reach other rows of its contacts."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from cadenza.clock import FixedClock
from cadenza.engine.worker import Worker
from cadenza.services import enrollments
from cadenza.store.models import Enrollment, Event
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

BRANCH_THEN_END = """
name: Pipelined
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: first
    action: branch
    branches: [{when: {tag: vip}, to: last}]
  - {key: last, action: end, wait: {days: 1}}
"""
START = at("2026-12-01T12:00:00Z")

# Refuses the first history rows written after it is installed, as a deadlock would: the
# server rolls back that transaction whole. It answers late, so that the worker has already
# moved on to the next batch. A sequence counts, outside any transaction.
FAIL_ONCE = """
CREATE SEQUENCE history_inserts;
CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('history_inserts') = 1 THEN
    PERFORM pg_sleep(0.3);
    RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fail_once BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION fail_once();
"""


def _enroll(db: Database, count: int) -> None:
    with write(db) as session:
        store(session, BRANCH_THEN_END, START)
        ids = [add_contact(session, START, email=f"p{i}@example.com") for i in range(count)]
        enrollments.enroll(
            session=session, sequence="Pipelined", contact_ids=ids, now=START, settings=SETTINGS
        )


def test_a_batch_that_fails_after_it_was_sent_is_claimed_again(
    pg_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    _enroll(pg_db, 7)
    with write(pg_db) as session:
        session.execute(text(FAIL_ONCE))
    worker = Worker(pg_db.sessions, FixedClock(START), SETTINGS, batch_size=2)

    with caplog.at_level(logging.WARNING, logger="cadenza.engine.worker"):
        advanced = worker.drain()

    assert advanced == 7
    assert any("to be claimed again" in r.getMessage() for r in caplog.records)
    with pg_db.sessions() as session:
        attempts = session.execute(text("SELECT last_value FROM history_inserts")).scalar_one()
        assert attempts > 4  # the failed batch, then four that committed
        steps = session.scalars(select(Enrollment.step)).all()
        executed = session.execute(
            select(Event.enrollment_id, func.count())
            .where(Event.type == "step_executed", Event.step == "first")
            .group_by(Event.enrollment_id)
        ).all()
    assert steps == ["last"] * 7
    assert sorted(n for _id, n in executed) == [1] * 7


TAGGER = """
name: Tagger
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: hot}
  - {key: rest, action: end, wait: {days: 1}}
"""
WATCHER = """
name: Watcher
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {when: {tag: hot}}
steps:
  - key: look
    action: branch
    branches: [{when: {tag: vip}, to: rest}]
  - {key: rest, action: end, wait: {days: 1}}
"""


def test_a_contact_change_reaches_an_enrollment_claimed_ahead(pg_db: Database) -> None:
    # With one enrollment per batch, the worker claims the next batch ahead while it decides
    # the Tagger one. The tag added must then exit the Watcher enrollment: the claim sent
    # ahead leaves the Tagger batch's contact out, so the worker never waits on itself.
    with write(pg_db) as session:
        store(session, TAGGER, START)
        store(session, WATCHER, START)
        contact = add_contact(session, START)
        for name, when in (("Tagger", START - timedelta(minutes=1)), ("Watcher", START)):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=[contact], now=when, settings=SETTINGS
            )
    worker = Worker(pg_db.sessions, FixedClock(START), SETTINGS, batch_size=1)
    advanced: list[int] = []
    drain = threading.Thread(target=lambda: advanced.append(worker.drain()), daemon=True)
    drain.start()
    drain.join(30)

    assert not drain.is_alive(), "the worker waited on a lock of its own claim"
    assert advanced == [1]
    with pg_db.sessions() as session:
        rows = session.execute(
            select(Enrollment.step, Enrollment.status, Enrollment.exit_reason).order_by(
                Enrollment.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("rest", "active", None),
        ("look", "exited", "exit condition met: tagged hot"),
    ]


CHANGER = """
name: Changer
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: hot}
  - {key: field, action: set_field, field: stage, value: contacted}
  - {key: rest, action: end, wait: {days: 1}}
"""
LISTENER = """
name: Listener
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: listen
    action: wait_for
    events: [field_changed]
    timeout: {days: 3}
    routes: {field_changed: heard}
  - {key: more, action: end, wait: {days: 2}}
  - {key: heard, action: end, wait: {days: 4}}
"""


Outcome = tuple[tuple[tuple[object, ...], ...], tuple[tuple[object, ...], ...]]


def _outcomes(db: Database, contact_ids: list[int]) -> list[Outcome]:
    """Per contact, in order: its enrollments' places and the history written about it."""
    found: list[Outcome] = []
    with db.sessions() as session:
        for cid in contact_ids:
            places = session.execute(
                select(Enrollment.sequence_id, Enrollment.status, Enrollment.step)
                .where(Enrollment.contact_id == cid)
                .order_by(Enrollment.sequence_id)
            ).all()
            events = session.execute(
                select(Event.type, Event.sequence_id, Event.step)
                .where(Event.contact_id == cid, Event.time == START)
                .order_by(Event.sequence_id, Event.id)
            ).all()
            found.append((tuple(map(tuple, places)), tuple(map(tuple, events))))
    return found


def test_contact_changes_written_behind_end_where_one_batch_at_a_time_does(
    pg_db: Database,
) -> None:
    # Each contact's Listener enrollment may be decided in the batch that changes its
    # contact, or in another: either way the change reaches it as it would one at a time.
    with write(pg_db) as session:
        store(session, CHANGER, START)
        store(session, LISTENER, START)
        groups = [
            [add_contact(session, START, email=f"{g}{i}@example.com") for i in range(7)]
            for g in ("a", "b")
        ]
    for group in groups:
        with write(pg_db) as session:
            for name in ("Listener", "Changer"):
                enrollments.enroll(
                    session=session, sequence=name, contact_ids=group, now=START, settings=SETTINGS
                )
        worker = Worker(pg_db.sessions, FixedClock(START), SETTINGS, batch_size=3)
        if group is groups[0]:
            assert worker.drain() == 14  # pipelined: claims ahead, writes behind
        else:
            while worker.tick():  # one batch at a time, every write waited for
                pass
    pipelined, one_at_a_time = _outcomes(pg_db, groups[0]), _outcomes(pg_db, groups[1])
    assert pipelined == one_at_a_time
    places, events = pipelined[0]
    assert [status for _seq, status, _step in places] == ["active", "active"]
    assert {step for _seq, _status, step in places} == {"heard", "rest"}
    assert ("field_changed", None, None) not in events  # written under the sequences


HANDING = """
name: Handing
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: handoff}
  - key: look
    action: branch
    branches: [{when: {tag: never}, to: done}]
  - {key: done, action: end, outcome: positive}
"""
TAKING = """
name: Taking
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment:
  triggers: [{on: tag_added, tag: handoff}]
steps:
  - {key: later, action: end, wait: {days: 3}}
"""


def test_a_hand_over_written_behind_ends_where_one_batch_at_a_time_does(
    pg_db: Database,
) -> None:
    """A batch whose tags hand its contacts to another sequence by its trigger: the same
    enrollments, and the same history in the same order, pipelined or not."""
    with write(pg_db) as session:
        store(session, HANDING, START)
        store(session, TAKING, START)
        groups = [
            [add_contact(session, START, email=f"{g}{i}@example.com") for i in range(7)]
            for g in ("a", "b")
        ]
    for group in groups:
        with write(pg_db) as session:
            enrollments.enroll(
                session=session, sequence="Handing", contact_ids=group, now=START, settings=SETTINGS
            )
        worker = Worker(pg_db.sessions, FixedClock(START), SETTINGS, batch_size=3)
        if group is groups[0]:
            assert worker.drain() == 7  # pipelined: claims ahead, writes behind
        else:
            while worker.tick():  # one batch at a time, every write waited for
                pass
    found = []
    with pg_db.sessions() as session:
        for cid in groups[0] + groups[1]:
            found.append(
                session.execute(
                    select(Event.type, Event.sequence_id, Event.step)
                    .where(Event.contact_id == cid, Event.time == START)
                    .order_by(Event.id)
                ).all()
            )
    pipelined, one_at_a_time = found[:7], found[7:]
    assert pipelined == one_at_a_time
    # Enrolled into Handing, its steps, then the tag and the enrollment into Taking it set off.
    types = [kind for kind, _seq, _step in pipelined[0]]
    assert types[0] == "enrolled" and types[-2:] == ["tag_added", "enrolled"]
    assert types.count("step_executed") == 3
