"""Bulk enrollment: what each contact gets matches the machine's own decision for that contact."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cadenza.core import machine
from cadenza.services import enrollments
from cadenza.services.enrollments import enrolling
from cadenza.services.history import list_history
from cadenza.store.catalog import definition_for
from cadenza.store.machine_reads import load_views
from cadenza.store.models import ContactTag, Enrollment, Event, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

NOW = "2026-12-04T22:30:00Z"  # a Friday: late evening in New York, Saturday morning in Tokyo
ZONED = """
name: Zoned
senders: {sms: "+13125550100"}
schedule: {timezone: contact, days: business, hours: {open: "09:00", close: "17:00"},
           fallback_timezone: America/Denver}
enrollment: {reentry: always}
steps:
  - {key: hello, action: sms, body: "Hello", wait: {hours: 2}}
  - {key: again, action: sms, body: "Again", wait: {days: 1}}
"""
ZONES = ["America/New_York", "Asia/Tokyo", "Europe/Paris", None, "Not/AZone", "America/New_York"]


def _enroll(db: Database, ids: list[int], **options: Any) -> enrollments.EnrollReport:
    with write(db) as session:
        return enrollments.enroll(
            session=session,
            sequence="Zoned",
            contact_ids=ids,
            now=at(NOW),
            settings=SETTINGS,
            **options,
        )


def _contacts(db: Database) -> list[int]:
    with write(db) as session:
        store(session, ZONED, at(NOW))
        ids = []
        for i, zone in enumerate(ZONES):
            fields = {"plan": "pro"} if i % 3 else {}
            ids.append(
                add_contact(session, at(NOW), email=f"{i}@x.example", timezone=zone, fields=fields)
            )
            if i % 2:
                session.add(ContactTag(contact_id=ids[-1], tag="vip"))
        return ids


def test_each_contact_starts_as_the_machine_decides_for_that_contact(db: Database) -> None:
    ids = _contacts(db)
    report = _enroll(db, ids)
    assert report.enrolled == ids and report.refused == []
    with db.sessions() as session:
        rows = session.scalars(select(Enrollment).order_by(Enrollment.id)).all()
        events = session.scalars(select(Event).where(Event.type == "enrolled")).all()
        version_id = rows[0].version_id
        definition = definition_for(session=session, version_id=version_id)
        views = load_views(session=session, contact_ids=ids)
    assert [r.contact_id for r in rows] == ids
    logged = {e.enrollment_id: e for e in events}
    for row in rows:
        expected = machine.enroll(
            machine.Situation(
                definition, views[row.contact_id], now=at(NOW), quiet=SETTINGS.quiet_hours
            )
        )
        assert (row.status, row.step, row.due_at) == (
            expected.state.status,
            expected.state.step,
            expected.state.due_at,
        )
        assert row.state == {"visits": {}}
        (entry,) = expected.history
        event = logged[row.id]
        assert (event.contact_id, event.type, event.time, event.data) == (
            row.contact_id,
            entry.type,
            entry.time,
            entry.data,
        )
    due = {r.contact_id: r.due_at for r in rows}
    assert len({due[ids[0]], due[ids[1]], due[ids[2]], due[ids[3]]}) == 4  # zones differ
    assert due[ids[3]] == due[ids[4]]  # no zone and an unknown one both fall back to Denver
    assert due[ids[0]] == due[ids[5]]


def test_chunks_keep_ids_and_history_together_and_a_repeated_id_counts_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enrolling, "CHUNK", 2)
    ids = _contacts(db)
    missing = max(ids) + 1000
    report = _enroll(db, [ids[0], missing, *ids, ids[2]], actor="sequence:Tab\tand back\\slash")
    assert report.enrolled == ids  # reentry: always, yet each contact once per call
    assert report.refused == [(missing, "no such contact")]
    with db.sessions() as session:
        pairs = session.execute(select(Enrollment.id, Enrollment.contact_id)).all()
        history = list_history(session=session, types=["enrolled"])
    assert sorted((h["enrollment_id"], h["contact_id"]) for h in history) == sorted(pairs)
    assert {h["actor"] for h in history} == {"sequence:Tab\tand back\\slash"}


def test_a_paused_sequence_takes_enrollments_that_wait_for_it(db: Database) -> None:
    ids = _contacts(db)
    with write(db) as session:
        sequence = session.scalars(select(Sequence).where(Sequence.name == "Zoned")).one()
        sequence.status = "paused"
    _enroll(db, ids[:2], depth=3)
    with db.sessions() as session:
        rows = session.scalars(select(Enrollment)).all()
    assert {(r.status, r.paused_from, r.paused_by) for r in rows} == {
        ("paused", "active", "sequence")
    }
    assert all(r.due_at is not None and r.state == {"visits": {}, "depth": 3} for r in rows)


def test_reentry_after_exit_refuses_the_live_and_takes_back_the_exited(db: Database) -> None:
    with write(db) as session:
        store(session, ZONED.replace("reentry: always", "reentry: after_exit"), at(NOW))
        live, gone = (add_contact(session, at(NOW), email=f"{n}@x.example") for n in "ab")
    _enroll(db, [live, gone])
    with write(db) as session:
        enrollments.exit_contact(
            session=session,
            sequence="Zoned",
            contact_id=gone,
            now=at(NOW),
            reason="test",
        )
    report = _enroll(db, [live, gone])
    assert report.enrolled == [gone]
    assert report.refused == [(live, "already in this sequence")]
    with db.sessions() as session:
        rows = enrollments.list_enrollments(session=session, contact_id=gone)
        refusals = list_history(session=session, types=["enroll_refused"])
    assert [r["status"] for r in rows] == ["exited", "active"]
    assert [(h["contact_id"], h["reason"]) for h in refusals] == [
        (live, "already in this sequence")
    ]
