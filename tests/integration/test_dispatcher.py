"""The dispatcher end to end: outbox rows to a real SMTP server and the SMS sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import enrollments, outbox
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.settings import Settings
from cadenza.store.models import Message, Sender
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

EMAILS = """
name: Emails
senders: {email: "sales@acme.example", sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: hello, action: email, subject: "Hello {{ contact.first_name }}",
     body: '<p>Hi! See <a href="https://acme.example/pricing">pricing</a></p>',
     track: {opens: true, clicks: true}}
  - {key: again, action: email, wait: {hours: 1}, thread: reply_to_previous,
     subject: "ignored for a reply", body: "<p>Following up</p>"}
  - {key: text, action: sms, wait: {hours: 1}, body: "Hi {{ contact.first_name }}"}
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


def _start(
    db: Database, text: str = EMAILS, now: str = "2026-12-01T10:00:00-06:00", **contact: object
) -> int:
    with write(db) as session:
        store(session, text, at(now))
        contact_id = add_contact(session, at(now), **contact)
        enrollments.enroll(
            session=session,
            sequence="Emails",
            contact_ids=[contact_id],
            now=at(now),
            settings=Settings(environment="test"),
        )
    return contact_id


def _messages(db: Database) -> list[dict[str, object]]:
    with db.sessions() as session:
        return outbox.list_messages(session=session)


def test_emails_reach_the_server_threaded_tracked_and_with_unsubscribe_headers(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    _start(db)
    run_worker(db, "2026-12-01T10:00:00-06:00")
    assert _dispatch(db, settings, "2026-12-01T10:00:01-06:00") == 1
    run_worker(db, "2026-12-01T11:00:00-06:00")
    assert _dispatch(db, settings, "2026-12-01T11:00:01-06:00") == 1
    first, second = catcher.messages
    assert first["Subject"] == "Hello Jane"
    assert first["To"].addresses[0].addr_spec == "jane@example.com"
    with db.sessions() as session:
        stored = [
            m.meta["message_id"] for m in session.scalars(select(Message).order_by(Message.id))
        ]
    assert first["Message-ID"] == stored[0] and second["Message-ID"] == stored[1]
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["Subject"] == "Re: Hello Jane"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://c.example/u/" in first["List-Unsubscribe"]
    html = first.get_body(("html",)).get_content()
    assert "https://c.example/t/c/" in html and "acme.example/pricing" not in html
    assert "https://c.example/t/o/" in html
    statuses = [m["status"] for m in _messages(db)]
    assert statuses == ["sent", "sent"]
    with db.sessions() as session:
        assert len(list_history(session=session, types=["message_sent"])) == 2


def test_a_contact_who_unsubscribed_after_the_step_ran_is_not_emailed(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    contact_id = _start(db)
    run_worker(db, "2026-12-01T10:00:00-06:00")
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="unsubscribed",
            data={},
            now=at("2026-12-01T10:00:30-06:00"),
            settings=settings,
        )
    _dispatch(db, settings, "2026-12-01T10:01:00-06:00")
    assert catcher.messages == []
    (message,) = _messages(db)
    assert message["status"] == "suppressed" and "unsubscribed" in str(message["error"])


def test_a_text_in_quiet_hours_waits_for_morning_then_goes_to_the_sink(
    db: Database, settings: Settings
) -> None:
    _start(db)
    run_worker(db, "2026-12-01T10:00:00-06:00")
    run_worker(db, "2026-12-01T11:00:00-06:00")
    run_worker(db, "2026-12-01T12:00:00-06:00")  # the text is written at noon...
    _dispatch(db, settings, "2026-12-01T10:00:00-06:00")  # ...earlier emails go first
    # ...and the dispatcher only gets to it at 22:30 Chicago time: quiet hours.
    with write(db) as session:
        session.execute(
            update(Message)
            .where(Message.channel == "sms")
            .values(next_attempt_at=at("2026-12-01T22:30:00-06:00"))
        )
    _dispatch(db, settings, "2026-12-01T22:30:00-06:00")
    sms = next(m for m in _messages(db) if m["channel"] == "sms")
    assert sms["status"] == "queued"
    with db.sessions() as session:
        held = session.execute(
            select(Message.next_attempt_at).where(Message.channel == "sms")
        ).scalar_one()
    assert held == at("2026-12-02T08:00:00-06:00")
    assert not Path(settings.sms_sink_path).exists()
    _dispatch(db, settings, "2026-12-02T08:00:00-06:00")
    (record,) = [json.loads(line) for line in Path(settings.sms_sink_path).read_text().splitlines()]
    assert record["to"] == "+13125550101" and record["body"].startswith("Hi Jane")
    assert "STOP" in record["body"]


def test_temporary_failures_retry_later_and_permanent_ones_fail(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    _start(db)
    run_worker(db, "2026-12-01T10:00:00-06:00")
    catcher.answer = "451 4.3.0 try again later"
    assert _dispatch(db, settings, "2026-12-01T10:00:01-06:00") == 0
    (message,) = _messages(db)
    assert message["status"] == "queued" and message["attempts"] == 1
    with db.sessions() as session:
        retry_at = session.execute(select(Message.next_attempt_at)).scalar_one()
    assert retry_at > at("2026-12-01T10:00:01-06:00")
    catcher.answer = "550 5.7.1 rejected for policy reasons"
    _dispatch(db, settings, (retry_at + timedelta(seconds=1)).isoformat())
    (message,) = _messages(db)
    assert message["status"] == "failed" and "550" in str(message["error"])
    assert catcher.messages == []


@pytest.mark.parametrize("resend", [True, False])
def test_a_lease_that_expired_while_sending_is_resent_or_held(
    db: Database, catcher: Catcher, settings: Settings, resend: bool
) -> None:
    _start(db)
    run_worker(db, "2026-12-01T10:00:00-06:00")
    with write(db) as session:  # a dispatcher died after leasing this message
        session.execute(
            update(Message).values(
                status="sending", attempts=1, lease_until=at("2026-12-01T10:02:00-06:00")
            )
        )
    settings = settings.model_copy(update={"resend_expired_leases": resend})
    _dispatch(db, settings, "2026-12-01T10:01:00-06:00")
    assert catcher.messages == []  # the lease still holds
    _dispatch(db, settings, "2026-12-01T10:03:00-06:00")
    (message,) = _messages(db)
    if resend:
        assert message["status"] == "sent" and len(catcher.messages) == 1
    else:
        assert message["status"] == "held" and catcher.messages == []


def _queue_emails(db: Database, count: int, now: datetime, per_second: int | None = None) -> None:
    with write(db) as session:
        if per_second:
            session.add(Sender(kind="email", address="sales@acme.example", per_second=per_second))
        contact_id = add_contact(session, now)
        session.execute(
            insert(Message),
            [
                {
                    "key": f"manual:{i}",
                    "contact_id": contact_id,
                    "channel": "email",
                    "sender": "sales@acme.example",
                    "recipient": "jane@example.com",
                    "subject": f"n{i}",
                    "body": "<p>x</p>",
                    "meta": {},
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i in range(count)
            ],
        )


def test_sender_pacing_holds_the_rest_for_the_next_second(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    _queue_emails(db, 12, at("2026-12-01T10:00:00-06:00"), per_second=5)
    assert _dispatch(db, settings, "2026-12-01T10:00:00-06:00") == 5
    assert _dispatch(db, settings, "2026-12-01T10:00:01-06:00") == 5
    assert _dispatch(db, settings, "2026-12-01T10:00:02-06:00") == 2
    assert len(catcher.messages) == 12


def test_a_drain_of_many_batches_sends_and_records_every_message_once(
    db: Database, catcher: Catcher, settings: Settings
) -> None:
    now = at("2026-12-01T10:00:00-06:00")
    _queue_emails(db, 11, now)
    dispatcher = Dispatcher(db.sessions, FixedClock(now), settings, batch_size=3)
    try:
        assert dispatcher.drain() == 11
    finally:
        dispatcher.close()
    assert sorted(catcher.by_header("Subject")) == sorted(f"n{i}" for i in range(11))
    messages = _messages(db)
    assert {(m["status"], m["attempts"]) for m in messages} == {("sent", 1)}
    with db.sessions() as session:
        assert len(list_history(session=session, types=["message_sent"])) == 11
