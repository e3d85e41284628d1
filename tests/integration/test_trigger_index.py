"""Triggers are matched against an index kept per process, rebuilt when a sequence changes.

Events never reload the definitions; a new version, a pause, a resume or a deletion of a
sequence is seen by the very next event, in the same process.
"""

from __future__ import annotations

from sqlalchemy import func, select

from cadenza.services import events, sequences
from cadenza.store.models import Enrollment, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

NOW = at("2026-12-01T15:00:00Z")
WEBINAR = """
name: Webinar
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment:
  reentry: always
  triggers:
    - {on: tag_added, tag: %s}
steps:
  - {key: later, action: end, wait: {days: 3}}
"""


def _enrolled(db: Database) -> int:
    with db.sessions() as session:
        query = (
            select(func.count())
            .select_from(Enrollment)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(Sequence.name == "Webinar")
        )
        return int(session.execute(query).scalar_one())


def _tag(db: Database, contact: int, tag: str) -> None:
    with write(db) as session:
        events.record_event(
            session=session,
            contact_id=contact,
            name="tag_added",
            data={"tag": tag},
            now=NOW,
            settings=SETTINGS,
        )


def test_the_index_follows_versions_and_statuses(db: Database) -> None:
    with write(db) as session:
        store(session, WEBINAR % "webinar", NOW)
        contacts = [add_contact(session, NOW, email=f"p{i}@example.com") for i in range(5)]
    _tag(db, contacts[0], "webinar")
    assert _enrolled(db) == 1

    with write(db) as session:
        sequences.pause(session=session, name="Webinar", now=NOW)
    _tag(db, contacts[1], "webinar")
    assert _enrolled(db) == 1  # a paused sequence's triggers are not listening

    with write(db) as session:
        sequences.resume(session=session, name="Webinar", now=NOW)
    _tag(db, contacts[2], "webinar")
    assert _enrolled(db) == 2

    with write(db) as session:
        store(session, WEBINAR % "summit", NOW)  # a new version listens for another tag
    _tag(db, contacts[3], "webinar")
    assert _enrolled(db) == 2
    _tag(db, contacts[4], "summit")
    assert _enrolled(db) == 3
