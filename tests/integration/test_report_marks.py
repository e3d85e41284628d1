"""History is counted after it is written: nothing is missed, nothing is counted twice.

The reports count what was written since a mark. On PostgreSQL an id is drawn before its
transaction commits, so a later id can be counted first; on SQLite the ids of deleted newest
events are handed out again. Both are played here against a real database.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import Text, func, select

from cadenza.engine.runner import ReportCounting, drain_once
from cadenza.services import enrollments, history, reports
from cadenza.services.history import Subject
from cadenza.services.reports import counting
from cadenza.store import report_marks
from cadenza.store.models import Enrollment, ReportCount, ReportMark, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, FixedClock, add_contact, at, store, write

NOW = at("2026-12-01T15:00:00Z")
DEFINITION = """
name: Marks
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment: {reentry: always}
steps:
  - {key: first, action: add_tag, tag: one}
  - {key: last, action: end, wait: {days: 30}, outcome: positive}
"""


def _world(db: Database, people: int = 3) -> tuple[int, list[int]]:
    with write(db) as session:
        store(session, DEFINITION, NOW)
        ids = [add_contact(session, NOW, email=f"m{i}@x.example") for i in range(people)]
        enrollments.enroll(
            session=session, sequence="Marks", contact_ids=ids, now=NOW, settings=SETTINGS
        )
        sid = session.scalar(select(Sequence.id).where(Sequence.name == "Marks"))
        found = session.execute(select(Enrollment.contact_id, Enrollment.id)).all()
    by_contact = dict(found)
    return int(sid or 0), [by_contact[c] for c in ids]


def _opened(db: Database, sid: int, contact_id: int, enrollment_id: int, step: str) -> None:
    with write(db) as session:
        _open(session, sid, contact_id, enrollment_id, step)


def _open(session: object, sid: int, contact_id: int, enrollment_id: int, step: str) -> None:
    history.record(
        session,  # type: ignore[arg-type]
        Subject(contact_id, sid, enrollment_id), "opened", NOW, step=step,
        enrollment_id=enrollment_id,
    )  # fmt: skip


def _counter(db: Database, metric: str, step: str) -> int:
    """The figure as the counters hold it (read without counting first)."""
    with db.sessions() as session:
        c = ReportCount
        n = session.scalar(select(func.sum(c.n)).where(c.metric == metric, c.step == step))
        return int(n or 0)


def test_history_is_counted_by_the_report_that_reads_it_and_once(db: Database) -> None:
    sid, (a, b, _c) = _world(db)
    contacts = _contacts(db)
    _opened(db, sid, contacts[a], a, "first")
    _opened(db, sid, contacts[a], a, "first")  # the same reader again: still one
    _opened(db, sid, contacts[b], b, "first")
    assert _counter(db, "opened", "first") == 0  # written, not counted yet
    with db.sessions() as session:
        report = reports.sequence_report(session=session, name="Marks")
        session.commit()
    assert report["messages"]["opened"]["count"] == 2
    assert _counter(db, "opened", "first") == 2
    with write(db) as session:  # counting again adds nothing
        assert counting.catch_up(session) == 0
    assert _counter(db, "opened", "first") == 2


def test_the_ids_of_deleted_newest_history_are_counted_when_given_out_again(db: Database) -> None:
    sid, (a, b, _c) = _world(db)
    contacts = _contacts(db)
    _opened(db, sid, contacts[b], b, "first")
    with write(db) as session:
        counting.catch_up(session)
        # Removing b deletes its history, the newest events there are.
        enrollments.remove(session=session, enrollment_id=b, now=NOW)
    _opened(db, sid, contacts[a], a, "first")
    _opened(db, sid, contacts[a], a, "last")
    with db.sessions() as session:
        assert (
            reports.sequence_report(session=session, name="Marks")["messages"]["opened"]["count"]
            == 1
        )
        session.commit()
    assert _counter(db, "opened", "last") == 1


def test_an_event_committed_after_a_later_one_is_still_counted(pg_db: Database) -> None:
    db = pg_db
    sid, (a, b, _c) = _world(db)
    contacts = _contacts(db)
    slow = db.sessions()
    try:
        _open(slow, sid, contacts[a], a, "first")  # draws the lower id, commits last
        slow.flush()
        _opened(db, sid, contacts[b], b, "first")  # the higher id, committed first
        with write(db) as session:
            counting.catch_up(session)
        assert _counter(db, "opened", "first") == 1
        with db.sessions() as session:
            mark = session.get(ReportMark, report_marks.NAME)
            assert mark is not None and mark.holes != "[]"  # the lower id is awaited
        slow.commit()
    finally:
        slow.close()
    with write(db) as session:
        counting.catch_up(session)
    assert _counter(db, "opened", "first") == 2


def test_a_hole_is_let_go_once_every_transaction_that_could_fill_it_ended(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pg_db
    sid, (a, b, _c) = _world(db)
    contacts = _contacts(db)
    with db.sessions() as lost:  # draws an id, then rolls back: a hole no one fills
        _open(lost, sid, contacts[a], a, "first")
        lost.flush()
        _opened(db, sid, contacts[b], b, "first")
        with write(db) as session:
            counting.catch_up(session)
        lost.rollback()
    monkeypatch.setattr(report_marks, "HOLE_GRACE", 0.0)
    with db.sessions() as session:
        found = json.loads(session.scalar(select(ReportMark.holes)) or "[]")
    assert len(found) == 1  # kept while a transaction that could fill it may be running
    # Transaction ids are the whole server's: any transaction running when the hole was
    # found, in any database of the server, keeps it. Wait for them (none but this test's
    # own, on a quiet server), then a count lets the hole go.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _oldest_running(db) < found[0][2]:
        time.sleep(0.1)
    with write(db) as session:
        counting.catch_up(session)
    with db.sessions() as session:
        assert session.scalar(select(ReportMark.holes)) == "[]"
    assert _counter(db, "opened", "first") == 1


def _oldest_running(db: Database) -> int:
    with db.sessions() as session:
        query = select(func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text()))
        return int(session.scalar(query) or 0)


def test_the_worker_counts_new_history_and_once_counts_all(db: Database) -> None:
    sid, (a, b, c) = _world(db)
    contacts = _contacts(db)
    _opened(db, sid, contacts[a], a, "first")
    ReportCounting(db.sessions).tick()
    assert _counter(db, "opened", "first") == 1
    _opened(db, sid, contacts[b], b, "first")
    _opened(db, sid, contacts[c], c, "first")
    drain_once(db.sessions, FixedClock(NOW), SETTINGS, send=False)
    assert _counter(db, "opened", "first") == 3
    assert _counter(db, "ran", "first") == 3  # the steps `worker --once` ran, counted too


def test_two_counters_at_once_count_each_event_once(pg_db: Database) -> None:
    db = pg_db
    sid, ids = _world(db, people=6)
    contacts = _contacts(db)
    for enrollment_id in ids:
        _opened(db, sid, contacts[enrollment_id], enrollment_id, "first")
    errors: list[BaseException] = []

    def count() -> None:
        try:
            with write(db) as session:
                counting.catch_up(session)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _counter(db, "opened", "first") == 6


def _contacts(db: Database) -> dict[int, int]:
    with db.sessions() as session:
        return dict(session.execute(select(Enrollment.id, Enrollment.contact_id)).all())
