"""A scenario with known figures, shared by the report tests of every surface."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import enrollments
from cadenza.services.inbound.matching import apply_event
from cadenza.settings import Settings
from cadenza.store.models import Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import smtp_catcher

NOW = "2026-12-01T15:00:00Z"
OUTREACH = """
name: Outreach
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {on: [replied, bounced, unsubscribed]}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>Hi</p>"}
  - {key: later, action: email, wait: {days: 1}, subject: "Later", body: "<p>Again</p>"}
"""
OTHER = OUTREACH.replace("name: Outreach", "name: Other")


@contextmanager
def mail() -> Iterator[Settings]:
    """Settings that send email to a real SMTP server on loopback."""
    with smtp_catcher() as catcher:
        yield Settings(environment="test", smtp_port=catcher.port, base_url="https://c.example")


def send(db: Database, settings: Settings, now: datetime) -> int:
    """Run the worker, then send what it queued (as `cadenza worker --once` does)."""
    run_worker(db, now)
    dispatcher = Dispatcher(db.sessions, FixedClock(now), settings)
    try:
        return dispatcher.drain()
    finally:
        dispatcher.close()


def play(db: Database) -> dict[str, Any]:
    """Five contacts in Outreach, two in Other; first emails sent; then engagement.

    Outreach: 5 sent; opened by 3 (one of them three times), clicked by 1, replied by 1,
    bounced 1, unsubscribed 1. Other: 2 sent, 1 replied.
    """
    with write(db) as session:
        store(session, OUTREACH, at(NOW))
        store(session, OTHER, at(NOW))
        people = [add_contact(session, at(NOW), email=f"c{i}@x.example") for i in range(7)]
        for name, who in (("Outreach", people[:5]), ("Other", people[5:])):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=who, now=at(NOW), settings=SETTINGS
            )
    with mail() as settings:
        assert send(db, settings, at(NOW)) == 7
    later = at("2026-12-01T16:00:00Z")
    with write(db) as session:
        sent = {m.contact_id: m for m in session.scalars(select(Message))}
        stream = [
            (people[0], "opened"), (people[0], "opened"), (people[0], "opened"),
            (people[1], "opened"), (people[2], "opened"), (people[1], "clicked"),
            (people[1], "replied"), (people[3], "bounced"), (people[4], "unsubscribed"),
            (people[5], "replied"),
        ]  # fmt: skip
        for cid, name in stream:  # as the tracking links and bounce handling record them
            apply_event(session, cid, name, later, SETTINGS, sent[cid])
    return {"people": people}
