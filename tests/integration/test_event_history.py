"""An event that reached enrollments is found in history under each of their sequences."""

from __future__ import annotations

from cadenza.services import enrollments
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.services.inbound import handle_email
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

NOW = "2026-12-01T15:00:00Z"
FIRST = """
name: First
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>Hi</p>"}
  - {key: later, action: email, wait: {days: 3}, subject: "Later", body: "<p>Again</p>"}
"""
SECOND = FIRST.replace("name: First", "name: Second").replace("[replied]", "[bounced]")


def _replied(db: Database, sequence: str | None = None) -> list[dict[str, object]]:
    with db.sessions() as session:
        return list_history(session=session, sequence=sequence, types=["replied"])


def test_a_reply_is_found_under_each_sequence_the_contact_is_in(db: Database) -> None:
    with write(db) as session:
        store(session, FIRST, at(NOW))
        store(session, SECOND, at(NOW))
        contact_id = add_contact(session, at(NOW), email="lee@x.example")
        for name in ("First", "Second"):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=[contact_id], now=at(NOW),
                settings=SETTINGS,
            )  # fmt: skip
    run_worker(db, NOW)  # both send their first email
    raw = (
        b"From: Lee <lee@x.example>\r\nTo: sales@acme.example\r\nSubject: Re: Hello\r\n"
        b"Message-ID: <r1@x.example>\r\n\r\nYes, let's talk.\r\n"
    )
    with write(db) as session:
        result = handle_email(
            session=session, raw=raw, recipients=["sales@acme.example"], now=at(NOW),
            settings=SETTINGS,
        )  # fmt: skip
    assert result.outcome == "replied"
    assert [r["sequence"] for r in _replied(db, "First")] == ["First"]
    assert [r["sequence"] for r in _replied(db, "Second")] == ["Second"]
    with db.sessions() as session:
        rows = {r["sequence"]: r["status"] for r in enrollments.list_enrollments(session=session)}
    assert rows == {"First": "exited", "Second": "active"}  # each by its own exit rules


def test_an_event_for_a_contact_in_no_sequence_is_written_once(db: Database) -> None:
    with write(db) as session:
        contact_id = add_contact(session, at(NOW))
        record_event(
            session=session, contact_id=contact_id, name="replied", data={}, now=at(NOW),
            settings=SETTINGS,
        )  # fmt: skip
    assert [(r["sequence"], r["contact_id"]) for r in _replied(db)] == [(None, contact_id)]
