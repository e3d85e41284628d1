"""A contact's last-contacted and last-activity fields follow what happens to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import contacts, enrollments
from cadenza.services.events import Incoming, record_event, record_events
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

EMAILS = """
name: Emails
senders: {email: "sales@acme.example", sms: "+13125550100"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>Hi</p>"}
  - key: nudge
    action: email
    wait: {hours: 1}
    when: {field: last_contacted_mode, op: eq, value: opened_no_reply}
    subject: "Saw you looked"
    body: "<p>Hi again</p>"
  - {key: text, action: sms, wait: {hours: 1}, body: "Hi"}
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
        sms_sink_path=str(tmp_path / "sink.jsonl"),
        secret_key="s3cret",
    )


def _dispatch(db: Database, settings: Settings, now: str) -> int:
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        return dispatcher.drain()
    finally:
        dispatcher.close()


def _row(db: Database, contact_id: int) -> dict[str, object]:
    with db.sessions() as session:
        row = contacts.contact_row(session=session, contact_id=contact_id)
    return {k: row[k] for k in row if k.startswith(("last_contacted", "last_activity"))}  # type: ignore[literal-required]


def _event(db: Database, contact_id: int, name: str, now: str, **data: object) -> None:
    with write(db) as session:
        record_event(
            session=session, contact_id=contact_id, name=name, data=data, now=at(now),
            settings=Settings(environment="test"),
        )  # fmt: skip


def test_sends_opens_replies_and_calls_move_the_computed_fields(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    with write(db) as session:
        store(session, EMAILS, at("2026-12-01T10:00:00Z"))
        contact_id = add_contact(session, at("2026-12-01T10:00:00Z"), timezone="UTC")
        enrollments.enroll(
            session=session, sequence="Emails", contact_ids=[contact_id],
            now=at("2026-12-01T10:00:00Z"), settings=Settings(environment="test"),
        )  # fmt: skip
    assert _row(db, contact_id) == {
        "last_contacted_at": None,
        "last_contacted_mode": "not_contacted",
        "last_activity_type": None,
        "last_activity_at": None,
    }
    run_worker(db, "2026-12-01T10:00:00Z")
    assert _dispatch(db, settings, "2026-12-01T10:00:05Z") == 1
    assert _row(db, contact_id) == {
        "last_contacted_at": "2026-12-01T10:00:05+00:00",
        "last_contacted_mode": "no_reply",
        "last_activity_type": "email_sent",
        "last_activity_at": "2026-12-01T10:00:05+00:00",
    }
    _event(db, contact_id, "opened", "2026-12-01T10:30:00Z", step="hello")
    row = _row(db, contact_id)
    assert row["last_contacted_mode"] == "opened_no_reply"
    assert row["last_contacted_at"] == "2026-12-01T10:00:05+00:00"  # an open reaches nobody
    assert row["last_activity_type"] == "email_opened"
    # The engine reads the computed mode in a condition: the nudge goes out.
    run_worker(db, "2026-12-01T11:00:00Z")
    assert _dispatch(db, settings, "2026-12-01T11:00:05Z") == 1
    assert [m["Subject"] for m in catcher.messages] == ["Hello", "Saw you looked"]
    assert _row(db, contact_id)["last_contacted_mode"] == "no_reply"
    run_worker(db, "2026-12-01T12:00:00Z")
    _dispatch(db, settings, "2026-12-01T12:00:05Z")
    assert _row(db, contact_id)["last_contacted_mode"] == "sms_sent"
    _event(db, contact_id, "replied", "2026-12-01T13:00:00Z")
    row = _row(db, contact_id)
    assert (row["last_contacted_mode"], row["last_activity_type"]) == ("replied", "replied")
    assert row["last_contacted_at"] == "2026-12-01T13:00:00+00:00"
    _event(db, contact_id, "call_logged", "2026-12-01T14:00:00Z", direction="inbound")
    assert _row(db, contact_id) == {
        "last_contacted_at": "2026-12-01T14:00:00+00:00",
        "last_contacted_mode": "incoming_call",
        "last_activity_type": "call",
        "last_activity_at": "2026-12-01T14:00:00+00:00",
    }
    # An event reported late (older than what the contact shows) does not move it back.
    _event(db, contact_id, "call_logged", "2026-12-01T13:30:00Z", outcome="no_answer")
    assert _row(db, contact_id)["last_contacted_mode"] == "incoming_call"
    _event(db, contact_id, "call_logged", "2026-12-01T15:00:00Z", outcome="no_answer")
    assert _row(db, contact_id)["last_contacted_mode"] == "outgoing_call"


def test_a_condition_on_the_computed_fields_skips_a_step_when_it_does_not_hold(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    with write(db) as session:
        store(session, EMAILS, at("2026-12-01T10:00:00Z"))
        contact_id = add_contact(session, at("2026-12-01T10:00:00Z"), timezone="UTC")
        enrollments.enroll(
            session=session, sequence="Emails", contact_ids=[contact_id],
            now=at("2026-12-01T10:00:00Z"), settings=Settings(environment="test"),
        )  # fmt: skip
    run_worker(db, "2026-12-01T10:00:00Z")
    _dispatch(db, settings, "2026-12-01T10:00:05Z")
    run_worker(db, "2026-12-01T11:00:00Z")  # never opened: the nudge is skipped
    _dispatch(db, settings, "2026-12-01T11:00:05Z")
    assert [m["Subject"] for m in catcher.messages] == ["Hello"]


def test_a_batch_of_events_moves_each_contacts_fields_and_a_late_one_none_back(
    db: Database,
) -> None:
    with write(db) as session:
        first, second, third = (
            add_contact(session, at("2026-12-01T09:00:00Z"), email=f"b{i}@x.example")
            for i in range(3)
        )

    def batch(now: str, *events: Incoming) -> None:
        with write(db) as session:
            record_events(
                session=session, events=list(events), now=at(now),
                settings=Settings(environment="test"),
            )  # fmt: skip

    batch("2026-12-01T12:00:00Z", Incoming(second, "replied"))
    # One batch, its contacts out of id order, one of them (second) already further on.
    batch(
        "2026-12-01T11:00:00Z",
        Incoming(third, "replied"),
        Incoming(second, "opened", {"step": "hello"}),
        Incoming(first, "opened", {"step": "hello"}),
        Incoming(first, "opened", {"step": "hello"}),
    )
    assert _row(db, first) == {
        "last_contacted_at": None,
        "last_contacted_mode": "not_contacted",  # an open reaches nobody
        "last_activity_type": "email_opened",
        "last_activity_at": "2026-12-01T11:00:00+00:00",
    }
    assert _row(db, second) == {
        "last_contacted_at": "2026-12-01T12:00:00+00:00",
        "last_contacted_mode": "replied",
        "last_activity_type": "replied",
        "last_activity_at": "2026-12-01T12:00:00+00:00",
    }
    assert _row(db, third) == {
        "last_contacted_at": "2026-12-01T11:00:00+00:00",
        "last_contacted_mode": "replied",
        "last_activity_type": "replied",
        "last_activity_at": "2026-12-01T11:00:00+00:00",
    }
