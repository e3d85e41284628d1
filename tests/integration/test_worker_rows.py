"""The worker reads and writes rows on the driver's cursor: they must read back the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from cadenza.clock import FixedClock
from cadenza.engine.worker import Worker
from cadenza.services import enrollments, history
from cadenza.store.claims import claim_due
from cadenza.store.db import writing
from cadenza.store.models import ContactTag, Enrollment, Event, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

TWO_STEPS = """
name: Rows
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - key: first
    action: branch
    branches: [{when: {tag: vip}, to: last}]
  - {key: middle, action: add_tag, tag: seen, wait: {minutes: 90}}
  - {key: last, action: end, wait: {days: 1}}
"""
START = at("2026-12-01T12:00:00.123456Z")


def test_a_claimed_contact_has_every_value_of_its_row(db: Database) -> None:
    with write(db) as session:
        store(session, TWO_STEPS, START)
        owner = User(email="owner@example.com", name="Owner", created_at=START)
        session.add(owner)
        session.flush()
        contact_id = add_contact(
            session,
            START,
            first_name="Ana",
            phone=None,
            dnc=False,
            email_bounced=True,
            fields={"plan": "gold", "seats": 12},
            owner_id=owner.id,
        )
        session.add_all([ContactTag(contact_id=contact_id, tag=t) for t in ("vip", "Alpha")])
        session.flush()
        enrollments.enroll(
            session=session, sequence="Rows", contact_ids=[contact_id], now=START, settings=SETTINGS
        )
    with writing(db.sessions) as session:
        (claimed,) = claim_due(session, START, 10)
        session.rollback()
    assert claimed.contact_id == contact_id
    assert claimed.due_at == START and claimed.due_at.tzinfo is not None
    assert claimed.enrolled_at == START
    assert claimed.last_step_at is None
    assert claimed.status == "active" and claimed.step == "first"
    contact = claimed.contact
    assert contact["first_name"] == "Ana" and contact["phone"] is None
    assert contact["fields"] == {"plan": "gold", "seats": 12}
    assert contact["email_bounced"] is True and contact["dnc"] is False
    assert contact["owner"] == "owner@example.com"
    assert contact["timezone"] == "America/Chicago"
    assert contact["tags"] == ["Alpha", "vip"]
    assert (claimed.sequence_name, claimed.sequence_status) == ("Rows", "active")


def _enroll_one(db: Database) -> None:
    """One contact enrolled in TWO_STEPS at START."""
    with write(db) as session:
        store(session, TWO_STEPS, START)
        contact_id = add_contact(session, START)
        enrollments.enroll(
            session=session, sequence="Rows", contact_ids=[contact_id], now=START, settings=SETTINGS
        )


def test_what_the_worker_writes_reads_back_through_the_models(db: Database) -> None:
    _enroll_one(db)
    assert run_worker(db, START) == 1
    with db.sessions() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.step == "middle"
        assert enrollment.due_at == START + timedelta(minutes=90)
        assert enrollment.last_step_at == START
        assert enrollment.updated_at == START
        assert enrollment.state == {"visits": {"first": 1}}
        executed = session.scalars(select(Event).where(Event.type == "step_executed")).one()
        assert executed.time == START and executed.time.tzinfo is not None
        assert executed.data == {"action": "branch"}
        assert executed.reason == "no branch matched"
    # The worker's own text must sort as SQLAlchemy's does, or the due index would misorder.
    later = START + timedelta(minutes=90)
    assert run_worker(db, later - timedelta(microseconds=1)) == 0
    assert run_worker(db, later) == 1
    with db.sessions() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.step == "last"
        assert enrollment.due_at == later + timedelta(days=1)
        assert enrollment.state == {"visits": {"first": 1, "middle": 1}}
        assert enrollment.due_at is not None
        assert enrollment.due_at.astimezone(UTC) == datetime(2026, 12, 2, 13, 30, 0, 123456, UTC)


def test_history_rows_written_in_bulk_read_back_exactly(db: Database) -> None:
    odd = 'tab\there, new\nline, back\\slash, "quotes", \u00e9t\u00e9 \u2713'
    rows = [
        {
            "time": START + timedelta(microseconds=i),
            "type": "note",
            "contact_id": i,
            "sequence_id": None,
            "enrollment_id": None,
            "step": None,
            "actor": odd,
            "reason": None if i % 2 else odd,
            "data": {"nested": {"list": [1, None, "x"]}, "when": "2026-12-01", "n": i},
        }
        for i in range(1, 4)
    ]
    with write(db) as session:
        history.write(session, rows)
    with db.sessions() as session:
        stored = session.scalars(select(Event).where(Event.type == "note").order_by(Event.id)).all()
    assert [e.time for e in stored] == [r["time"] for r in rows]
    assert [e.actor for e in stored] == [odd] * 3
    assert [e.reason for e in stored] == [None, odd, None]
    assert [e.data for e in stored] == [r["data"] for r in rows]
    assert all(e.contact_id == i for i, e in enumerate(stored, start=1))


def test_a_worker_holding_its_connection_survives_losing_it(pg_db: Database) -> None:
    _enroll_one(pg_db)
    worker = Worker(pg_db.sessions, FixedClock(START), SETTINGS)
    with worker.holding():
        assert worker.tick() == 1
        with pg_db.sessions() as session:  # the server drops every other connection
            session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        later = START + timedelta(minutes=90)
        assert worker.tick(later) == 1
    with pg_db.sessions() as session:
        assert session.scalars(select(Enrollment.step)).one() == "last"


def test_history_data_with_number_keys_is_stored_as_json_would(db: Database) -> None:
    row = {
        "time": START,
        "type": "note",
        "contact_id": 1,
        "sequence_id": None,
        "enrollment_id": None,
        "step": None,
        "actor": "test",
        "reason": None,
        "data": {1: "one", "two": {3: True}},
    }
    with write(db) as session:
        history.write(session, [row])
    with db.sessions() as session:
        stored = session.scalars(select(Event).where(Event.type == "note")).one()
    assert stored.data == {"1": "one", "two": {"3": True}}
