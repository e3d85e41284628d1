"""Lists bound to a sequence: adding enrolls, removing pauses, adding back resumes at the
same step (nothing sent twice to a real SMTP server), one active sequence per list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.errors import Conflict, NotFound
from cadenza.services import enrollments, lists
from cadenza.services.history import list_history
from cadenza.services.sequences import lifecycle
from cadenza.settings import Settings
from cadenza.store.models import Message
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

START = "2026-12-01T10:00:00-06:00"  # a Tuesday in Chicago
ROLLUP = """
name: Rollup
senders: {email: "Ana Ruiz <ana@sales.example.com>"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
enrollment: {list: Hot leads}
steps:
  - {key: first, action: email, subject: "First", body: "<p>one</p>"}
  - {key: second, action: email, wait: {hours: 1}, subject: "Second", body: "<p>two</p>"}
  - {key: third, action: email, wait: {hours: 1}, subject: "Third", body: "<p>three</p>"}
"""
OTHER = ROLLUP.replace("name: Rollup", "name: Other")


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as caught:
        yield caught


def _run(db: Database, catcher: Catcher, now: str) -> None:
    run_worker(db, now)
    settings = Settings(environment="test", smtp_host="127.0.0.1", smtp_port=catcher.port)
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()


def _setup(db: Database) -> tuple[int, int]:
    with write(db) as session:
        lists.create_list(session=session, name="Hot leads", now=at(START))
        store(session, ROLLUP, at(START))
        jane = add_contact(session, at(START))
        bob = add_contact(session, at(START), email="bob@example.com", first_name="Bob")
    return jane, bob


def _status(db: Database, contact_id: int) -> tuple[str, str | None]:
    with db.sessions() as session:
        [row] = enrollments.list_enrollments(
            session=session, sequence="Rollup", contact_id=contact_id
        )
    return row["status"], row["step"]


def test_remove_pauses_and_adding_back_resumes_at_the_same_step(
    db: Database, catcher: Catcher
) -> None:
    jane, _ = _setup(db)
    with write(db) as session:
        added = lists.add_members(
            session=session, name="Hot leads", contact_ids=[jane], now=at(START), settings=SETTINGS
        )
    assert added.enrolled == [jane] and added.sequence == "Rollup"
    _run(db, catcher, START)
    assert [str(m["Subject"]) for m in catcher.messages] == ["First"]

    with write(db) as session:
        removed = lists.remove_members(
            session=session,
            name="Hot leads",
            contact_ids=[jane],
            now=at("2026-12-01T10:30:00-06:00"),
        )
    assert removed.paused == [jane]
    assert _status(db, jane) == ("paused", "second")
    _run(db, catcher, "2026-12-01T13:00:00-06:00")
    assert len(catcher.messages) == 1  # paused: the second email waits
    with db.sessions() as session:
        paused = list_history(session=session, contact_id=jane, types=["paused"])
    assert "removed from list 'Hot leads'" in str(paused[-1]["reason"])

    with write(db) as session:
        back = lists.add_members(
            session=session, name="Hot leads", contact_ids=[jane],
            now=at("2026-12-01T13:00:00-06:00"), settings=SETTINGS,
        )  # fmt: skip
    assert back.resumed == [jane] and back.enrolled == []
    assert _status(db, jane)[0] == "active"
    _run(db, catcher, "2026-12-01T13:00:00-06:00")
    _run(db, catcher, "2026-12-01T15:00:00-06:00")
    _run(db, catcher, "2026-12-01T17:00:00-06:00")
    assert [str(m["Subject"]) for m in catcher.messages] == ["First", "Second", "Third"]
    assert len(set(catcher.by_header("Message-ID"))) == 3
    with db.sessions() as session:
        keys = sorted(session.scalars(select(Message.key)))
    assert [k.split(":", 1)[1] for k in keys] == ["first:1", "second:1", "third:1"]


def test_a_list_serves_one_active_sequence(db: Database) -> None:
    _setup(db)
    with (
        write(db) as session,
        pytest.raises(Conflict, match="already serves the active sequence 'Rollup'"),
    ):
        store(session, OTHER, at(START))
    with write(db) as session:
        lifecycle.pause(session=session, name="Rollup", now=at(START))
        store(session, OTHER, at(START))  # Rollup paused: Other may serve the list
    with write(db) as session, pytest.raises(Conflict, match="sequence 'Other'"):
        lifecycle.activate(session=session, name="Rollup", now=at(START))
    with db.sessions() as session:
        assert lists.get_list(session=session, name="Hot leads").sequence == "Other"


def test_a_missing_list_is_refused_with_its_name(db: Database) -> None:
    with write(db) as session, pytest.raises(NotFound, match="no list 'Hot leads'"):
        store(session, ROLLUP, at(START))


def test_members_on_the_list_before_activation_are_enrolled(db: Database) -> None:
    with write(db) as session:
        lists.create_list(session=session, name="Hot leads", now=at(START))
        jane = add_contact(session, at(START))
        lists.add_members(
            session=session, name="Hot leads", contact_ids=[jane], now=at(START), settings=SETTINGS
        )
        store(session, ROLLUP, at(START))
    assert _status(db, jane) == ("active", "first")


def test_remove_from_sequence_takes_the_contact_off_the_list(db: Database) -> None:
    jane, bob = _setup(db)
    with write(db) as session:
        lists.add_members(
            session=session, name="Hot leads", contact_ids=[jane, bob], now=at(START),
            settings=SETTINGS,
        )  # fmt: skip
        [row] = enrollments.list_enrollments(session=session, sequence="Rollup", contact_id=bob)
        enrollments.remove(session=session, enrollment_id=row["id"], now=at(START))
    with db.sessions() as session:
        members = lists.list_members(session=session, name="Hot leads", limit=10)
    assert [m.contact_id for m in members.rows] == [jane]


def test_adding_by_tag_and_refusals_are_reported(db: Database) -> None:
    jane, bob = _setup(db)
    with write(db) as session:
        session.execute(
            __import__("sqlalchemy").text("UPDATE contacts SET dnc = true WHERE id = :i"),
            {"i": bob},
        )
        from cadenza.store.models import ContactTag

        session.add_all(
            [ContactTag(contact_id=jane, tag="vip"), ContactTag(contact_id=bob, tag="vip")]
        )
        session.flush()
        report = lists.add_members(
            session=session, name="Hot leads", contact_ids=[], tag="vip", now=at(START),
            settings=SETTINGS,
        )  # fmt: skip
    assert report.enrolled == [jane]
    assert report.refused == [(bob, "contact is do-not-contact")]
    with write(db) as session, pytest.raises(NotFound, match="no contact 999"):
        lists.add_members(
            session=session, name="Hot leads", contact_ids=[999], now=at(START), settings=SETTINGS
        )


def test_removing_selected_enrollments_takes_them_off_the_list(db: Database) -> None:
    from cadenza.services.enrollments.queue import QueueFilter
    from cadenza.services.enrollments.selected import Selection, operate_selected

    jane, bob = _setup(db)
    with write(db) as session:
        lists.add_members(
            session=session, name="Hot leads", contact_ids=[jane, bob], now=at(START),
            settings=SETTINGS,
        )  # fmt: skip
        done = operate_selected(
            session=session, sequence="Rollup", verb="remove",
            selection=Selection(QueueFilter(search="bob@")), now=at(START),
        )  # fmt: skip
    assert done.changed == 1
    with db.sessions() as session:
        members = lists.list_members(session=session, name="Hot leads", limit=10)
    assert [m.contact_id for m in members.rows] == [jane]
