"""The domain-level do-not-contact list: a queued email to a blocked domain is suppressed at
the last moment, and the steps of a contact there skip with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.core.access import Person
from cadenza.engine.dispatcher import Dispatcher
from cadenza.errors import Conflict, Forbidden, ValidationFailed
from cadenza.services import enrollments
from cadenza.services.contacts.blocked_domains import block_domain, page_blocked, unblock_domain
from cadenza.services.history import list_history
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings
from cadenza.store.models import Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

START = "2026-12-01T10:00:00-06:00"
TOUCH = """
name: Touch
senders: {email: "ana@sales.example.com", sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>hi</p>"}
  - {key: text, action: sms, wait: {hours: 1}, body: "Hi there"}
"""


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as caught:
        yield caught


def _dispatch(db: Database, catcher: Catcher, now: str) -> None:
    settings = Settings(environment="test", smtp_host="127.0.0.1", smtp_port=catcher.port)
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()


def _enroll(db: Database, email: str) -> int:
    with write(db) as session:
        store(session, TOUCH, at(START))
        contact = add_contact(session, at(START), email=email)
        enrollments.enroll(
            session=session, sequence="Touch", contact_ids=[contact], now=at(START),
            settings=SETTINGS,
        )  # fmt: skip
    return contact


def test_a_queued_email_to_a_blocked_domain_is_suppressed_at_sending(
    db: Database, catcher: Catcher
) -> None:
    _enroll(db, "jane@mail.acme.example")
    run_worker(db, START)  # the email is written to the outbox
    with write(db) as session:
        block_domain(session=session, domain="ACME.example", reason="legal asked", now=at(START))
    _dispatch(db, catcher, START)
    assert catcher.messages == []
    with db.sessions() as session:
        message = session.scalar(select(Message))
    assert message is not None and message.status == "suppressed"
    assert message.error == "domain do-not-contact"


def test_the_steps_of_a_contact_at_a_blocked_domain_skip(db: Database, catcher: Catcher) -> None:
    with write(db) as session:
        block_domain(session=session, domain="acme.example", now=at(START))
    contact = _enroll(db, "jane@acme.example")
    run_worker(db, START)
    run_worker(db, "2026-12-01T11:30:00-06:00")
    _dispatch(db, catcher, "2026-12-01T11:30:00-06:00")
    assert catcher.messages == []
    with db.sessions() as session:
        assert session.scalar(select(Message)) is None
        skipped = list_history(session=session, contact_id=contact, types=["skipped"])
    assert [(e["step"], e["reason"]) for e in skipped] == [
        ("hello", "domain do-not-contact"),
        ("text", "domain do-not-contact"),
    ]


def test_unblocking_lets_the_next_email_go(db: Database, catcher: Catcher) -> None:
    with write(db) as session:
        block_domain(session=session, domain="acme.example", now=at(START))
        unblock_domain(session=session, domain="acme.example", now=at(START))
    _enroll(db, "jane@acme.example")
    run_worker(db, START)
    _dispatch(db, catcher, START)
    assert [str(m["Subject"]) for m in catcher.messages] == ["Hello"]


def test_the_list_is_kept_by_admins_and_managers_with_clear_refusals(db: Database) -> None:
    with write(db) as session:
        agent = Viewer(Person(7, "agent"), "ana@example.com")
        with pytest.raises(Forbidden):
            block_domain(session=session, domain="acme.example", now=at(START), viewer=agent)
        with pytest.raises(ValidationFailed, match="is not a domain"):
            block_domain(session=session, domain="not a domain", now=at(START))
        block_domain(session=session, domain="@acme.example", now=at(START))
        with pytest.raises(Conflict, match="already"):
            block_domain(session=session, domain="acme.example", now=at(START))
        manager = Viewer(Person(8, "manager"), "mia@example.com")
        page = page_blocked(session=session, limit=10, viewer=manager)
    assert [row.domain for row in page.rows] == ["acme.example"]
