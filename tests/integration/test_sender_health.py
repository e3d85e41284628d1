"""Sender health and pacing with real sends: complaints pause a mailbox, rotation and priority
under daily caps, the warm-up ramp, the stagger, and DKIM signatures that verify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select

from cadenza.channels.provider_hooks.events import ProviderEvent
from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import enrollments, senders
from cadenza.services.history import list_history
from cadenza.services.inbound.providers import record_provider_events
from cadenza.services.senders.delivery import stagger
from cadenza.settings import Settings
from cadenza.store.models import Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

DAY1 = "2026-12-01T10:00:00-06:00"
DAY2 = "2026-12-02T10:00:00-06:00"
TWO_STEPS = """
name: Outreach
senders: {SENDERS}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: intro, action: email, subject: "Hello", body: "<p>Hi</p>"}
  - {key: follow_up, action: email, wait: {days: 1}, thread: reply_to_previous,
     subject: "x", body: "<p>Following up</p>"}
"""


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as running:
        yield running


@pytest.fixture
def settings(catcher: Catcher, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        smtp_port=catcher.port,
        base_url="https://c.example",
        secret_key="s3cret",
        sms_sink_path=str(tmp_path / "sink.jsonl"),
        health_min_sends=3,
    )


def _sequence(db: Database, senders_yaml: str) -> None:
    with write(db) as session:
        store(session, TWO_STEPS.replace("{SENDERS}", senders_yaml), at(DAY1))


def _enroll(db: Database, count: int, now: str, start: int = 0) -> list[int]:
    with write(db) as session:
        ids = [
            add_contact(session, at(now), email=f"lead{n}@example.com", phone=None)
            for n in range(start, start + count)
        ]
        enrollments.enroll(
            session=session, sequence="Outreach", contact_ids=ids, now=at(now), settings=SETTINGS
        )
    return ids


def _sender(db: Database, address: str, **caps: Any) -> int:
    with write(db) as session:
        return senders.add_sender(session=session, kind="email", address=address, caps=caps).id


def _run(db: Database, settings: Settings, now: str) -> None:
    run_worker(db, now)
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()


def _messages(db: Database) -> list[Message]:
    with db.sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _history(db: Database, *types: str) -> list[dict[str, Any]]:
    with db.sessions() as session:
        return list_history(session=session, types=list(types))


def test_complaints_past_the_threshold_pause_the_mailbox_and_hold_its_steps(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    sender_id = _sender(db, "sales@acme.example")
    _sequence(db, '{email: "sales@acme.example"}')
    _enroll(db, 3, DAY1)
    _run(db, settings, DAY1)
    assert len(catcher.messages) == 3
    first = _messages(db)[0]
    with write(db) as session:
        results = record_provider_events(
            session=session,
            events=[ProviderEvent("mailgun", "complained", key=first.key)],
            now=at("2026-12-01T12:00:00-06:00"),
            settings=settings,
        )
    assert results[0].outcome == "complained"
    (paused,) = _history(db, "sender_paused")
    assert "complaint rate 33.33% (1 of 3 sent over 30 days) reached 0.30%" in paused["reason"]
    with db.sessions() as session:
        (row,) = senders.list_senders(session=session, now=at(DAY1))
    assert row["paused"] and row["health"]["complaints"] == 1 and row["health"]["sent"] == 3
    (unsubscribed,) = _history(db, "unsubscribed")  # the complaint stops the contact's email
    assert unsubscribed["contact_id"] == first.contact_id

    _run(db, settings, DAY2)
    assert len(catcher.messages) == 3  # the follow-ups wait for the mailbox
    held = [e for e in _history(db, "deferred") if e["step"] == "follow_up"]
    assert len(held) == 2
    assert all("sender sales@acme.example is paused (complaint rate" in e["reason"] for e in held)

    with write(db) as session:
        senders.set_paused(session=session, sender_id=sender_id, paused=False, now=at(DAY2))
    _run(db, settings, "2026-12-02T11:05:00-06:00")
    assert len(catcher.messages) == 5
    assert _history(db, "sender_resumed")


def test_a_complaint_among_too_few_sends_pauses_nothing(db: Database, catcher: Catcher) -> None:
    settings = Settings(
        environment="test", smtp_port=catcher.port, base_url="https://c.example",
        secret_key="s3cret",
    )  # fmt: skip
    _sender(db, "sales@acme.example")
    _sequence(db, '{email: "sales@acme.example"}')
    _enroll(db, 3, DAY1)
    _run(db, settings, DAY1)
    with write(db) as session:
        record_provider_events(
            session=session,
            events=[ProviderEvent("mailgun", "complained", key=_messages(db)[0].key)],
            now=at(DAY1),
            settings=settings,
        )
        figures = senders.health_of(session, "sales@acme.example", at(DAY1), settings)
    assert figures.complaints == 1 and figures.complaint_rate == pytest.approx(1 / 3, abs=1e-4)
    assert not _history(db, "sender_paused")


def test_rotation_keeps_threads_and_later_steps_go_first_under_daily_caps(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    _sender(db, "ana@acme.example", per_day=2)
    _sender(db, "bo@acme.example", per_day=2)
    _sequence(db, '{email: "ana@acme.example", email_rotation: ["bo@acme.example"]}')
    _enroll(db, 4, DAY1)
    _run(db, settings, DAY1)
    first = {m.enrollment_id: m.sender for m in _messages(db)}
    assert sorted(first.values()) == ["ana@acme.example"] * 2 + ["bo@acme.example"] * 2

    _enroll(db, 3, DAY2, start=10)  # new contacts due at the same time as the follow-ups
    _run(db, settings, DAY2)
    day2 = [m for m in _messages(db) if m.step == "follow_up"]
    assert len(day2) == 4 and len(_messages(db)) == 8  # no first step got a place
    assert all(m.sender == first[m.enrollment_id] for m in day2)  # threads stay
    assert all(m.meta.get("in_reply_to") for m in day2)
    new = [e for e in _history(db, "deferred") if e["step"] == "intro"]
    assert len(new) == 3
    assert all(
        "held: sender ana@acme.example at 2/day" in e["reason"]
        and "held: sender bo@acme.example at 2/day" in e["reason"]
        for e in new
    )
    assert len(catcher.messages) == 8


def test_a_warm_up_ramp_caps_a_new_mailbox_and_grows_daily(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    sender_id = _sender(db, "new@acme.example", per_day=100)
    with write(db) as session:
        senders.set_warmup(
            session=session, sender_id=sender_id, start=2, step=1, since=at(DAY1).date()
        )
    _sequence(db, '{email: "new@acme.example"}')
    _enroll(db, 4, DAY1)
    _run(db, settings, DAY1)
    assert len(catcher.messages) == 2
    held = [e for e in _history(db, "deferred") if e["step"] == "intro"]
    assert held and "held: sender new@acme.example at 2/day (warm-up day 1)" in held[0]["reason"]
    _run(db, settings, DAY2)  # day 2: room for 3; two first steps and one follow-up... by priority
    assert len(catcher.messages) == 5
    day2 = [m.step for m in _messages(db)][2:]
    assert sorted(day2) == ["follow_up", "follow_up", "intro"]


def test_a_stagger_spreads_a_burst_by_each_messages_own_wait(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    sender_id = _sender(db, "sales@acme.example")
    with write(db) as session:
        senders.set_stagger(session=session, sender_id=sender_id, seconds=60)
    _sequence(db, '{email: "sales@acme.example"}')
    _enroll(db, 3, DAY1)
    _run(db, settings, DAY1)
    assert catcher.messages == []  # each waits its share of the minute
    waits = sorted(stagger(m.key, 60) for m in _messages(db))
    assert 0 < waits[0] < waits[-1] < 60
    middle = at(DAY1).timestamp() + (waits[0] + waits[1]) / 2
    dispatcher = Dispatcher(db.sessions, FixedClock(datetime.fromtimestamp(middle, UTC)), settings)
    try:
        assert dispatcher.drain() == 1
    finally:
        dispatcher.close()
    _run(db, settings, "2026-12-01T10:01:00-06:00")
    assert len(catcher.messages) == 3


def test_dkim_signed_mail_from_the_relay_verifies(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    sender_id = _sender(db, "sales@acme.example")
    with write(db) as session:
        name, value = senders.make_dkim(session=session, sender_id=sender_id, selector="s2026")
    assert name == "s2026._domainkey.acme.example" and value.startswith("v=DKIM1; k=rsa; p=")
    _sequence(db, '{email: "sales@acme.example"}')
    _enroll(db, 1, DAY1)
    _run(db, settings, DAY1)
    (raw,) = catcher.raw
    assert raw.startswith(b"DKIM-Signature: ")

    def dns(query: bytes, timeout: int = 5) -> bytes:
        return value.encode() if query == f"{name}.".encode() else b""

    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Hello", b"Hullo"), dnsfunc=dns)
