"""What an enrollment refers to: its contact, and a version of its own sequence.

SQLite declares these as foreign keys. PostgreSQL checks them once per statement, with
triggers (migration 0003), so the same rules are tested here on both, and on PostgreSQL
against a transaction running at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.services import enrollments
from cadenza.store.models import Contact, Enrollment, Sequence, SequenceVersion
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

START = at("2026-12-01T12:00:00Z")
CONTACT_KEY = "fk_enrollments_contact_id_contacts"
VERSION_KEY = "fk_enrollments_version_id_sequence_versions"
ONE_STEP = """
name: {name}
steps:
  - {{key: only, action: end, wait: {{days: 1}}}}
"""


def _version(db: Database, name: str = "First") -> tuple[int, int]:
    with db.sessions() as session:
        sequence_id, version_id = session.execute(
            select(SequenceVersion.sequence_id, SequenceVersion.id)
            .join(Sequence, Sequence.id == SequenceVersion.sequence_id)
            .where(Sequence.name == name)
        ).one()
        return sequence_id, version_id


def _row(sequence_id: int, version_id: int, contact_id: int) -> dict[str, Any]:
    return {
        "sequence_id": sequence_id,
        "version_id": version_id,
        "contact_id": contact_id,
        "status": "active",
        "step": "only",
        "due_at": START,
        "enrolled_at": START,
        "updated_at": START,
        "state": {"visits": {}},
    }


def _named(db: Database, error: IntegrityError, key: str) -> None:
    """PostgreSQL names the key, as its own foreign keys do; SQLite names none."""
    if db.backend == "postgresql":
        assert error.orig.diag.constraint_name == key  # type: ignore[union-attr]


def _count(db: Database) -> int:
    with db.sessions() as session:
        return session.execute(select(func.count()).select_from(Enrollment)).scalar_one()


@pytest.fixture
def seeded(db: Database) -> Database:
    """Two sequences, "First" and "Second", and three contacts; nobody enrolled."""
    return _seed(db, ("First", "Second"), contacts=3)


def _contacts(db: Database) -> list[int]:
    with db.sessions() as session:
        return list(session.scalars(select(Contact.id).order_by(Contact.id)))


def test_a_statement_with_one_missing_contact_inserts_nothing(seeded: Database) -> None:
    sequence_id, version_id = _version(seeded)
    rows = [_row(sequence_id, version_id, c) for c in [*_contacts(seeded), 999_999]]
    with seeded.sessions() as session, pytest.raises(IntegrityError) as refused:
        session.execute(insert(Enrollment), rows)
    _named(seeded, refused.value, CONTACT_KEY)
    assert _count(seeded) == 0


def test_a_version_of_another_sequence_is_refused_on_insert(seeded: Database) -> None:
    first, _ = _version(seeded, "First")
    _, second_version = _version(seeded, "Second")
    (contact, *_) = _contacts(seeded)
    with seeded.sessions() as session, pytest.raises(IntegrityError) as refused:
        session.execute(insert(Enrollment), [_row(first, second_version, contact)])
    _named(seeded, refused.value, VERSION_KEY)
    assert _count(seeded) == 0


def test_moving_an_enrollment_to_a_missing_contact_is_refused(seeded: Database) -> None:
    contacts = _contacts(seeded)
    with write(seeded) as session:
        enrollments.enroll(
            session=session, sequence="First", contact_ids=contacts, now=START, settings=SETTINGS
        )
    with seeded.sessions() as session, pytest.raises(IntegrityError) as refused:
        session.execute(update(Enrollment).values(contact_id=999_999))
    _named(seeded, refused.value, CONTACT_KEY)
    with seeded.sessions() as session:  # another of the contacts is fine
        session.execute(
            update(Enrollment)
            .where(Enrollment.contact_id == contacts[0])
            .values(contact_id=contacts[1])
        )
        session.rollback()


def test_deleting_contacts_deletes_their_enrollments_only(seeded: Database) -> None:
    contacts = _contacts(seeded)
    with write(seeded) as session:
        enrollments.enroll(
            session=session, sequence="First", contact_ids=contacts, now=START, settings=SETTINGS
        )
        enrollments.enroll(
            session=session, sequence="Second", contact_ids=contacts, now=START, settings=SETTINGS
        )
    with write(seeded) as session:
        session.execute(delete(Contact).where(Contact.id.in_(contacts[:2])))
    with seeded.sessions() as session:
        left = session.scalars(select(Enrollment.contact_id)).all()
    assert left == [contacts[2], contacts[2]]


def test_a_contact_keeps_its_id_while_enrolled(seeded: Database) -> None:
    (contact, *_) = _contacts(seeded)
    with write(seeded) as session:
        enrollments.enroll(
            session=session, sequence="First", contact_ids=[contact], now=START, settings=SETTINGS
        )
    with seeded.sessions() as session, pytest.raises(IntegrityError) as refused:
        session.execute(update(Contact).where(Contact.id == contact).values(id=999_999))
    _named(seeded, refused.value, CONTACT_KEY)


def test_a_contact_deleted_meanwhile_cannot_be_enrolled(pg_db: Database) -> None:
    # The deletion comes first and holds the contact; the enrollment waits for it, then
    # finds the contact gone and is refused, as a foreign key's check would be.
    seeded = _seed(pg_db)
    sequence_id, version_id = _version(seeded)
    (contact, *_) = _contacts(seeded)
    with seeded.sessions() as deleting:
        deleting.execute(delete(Contact).where(Contact.id == contact))
        waiting = _in_thread(
            seeded,
            lambda session: session.execute(
                insert(Enrollment), [_row(sequence_id, version_id, contact)]
            ),
        )
        deleting.commit()
    refused = waiting()
    assert isinstance(refused, IntegrityError)
    _named(seeded, refused, CONTACT_KEY)
    assert _count(seeded) == 0


def test_a_contact_being_enrolled_is_deleted_with_its_enrollment(pg_db: Database) -> None:
    # The enrollment comes first and holds the contact: the deletion waits until it commits,
    # then deletes the new enrollment with the contact.
    seeded = _seed(pg_db)
    sequence_id, version_id = _version(seeded)
    (contact, *_) = _contacts(seeded)
    with seeded.sessions() as enrolling:
        enrolling.execute(insert(Enrollment), [_row(sequence_id, version_id, contact)])
        waiting = _in_thread(
            seeded, lambda session: session.execute(delete(Contact).where(Contact.id == contact))
        )
        enrolling.commit()
    assert waiting() is None
    with seeded.sessions() as session:
        assert session.get(Contact, contact) is None
    assert _count(seeded) == 0


def _in_thread(
    db: Database, work: Callable[[Session], object]
) -> Callable[[], BaseException | None]:
    """Start `work` in a transaction of its own, which must still be waiting a second later;
    the returned function waits for it to end and gives what it raised, if anything."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        with db.sessions() as session:
            try:
                work(session)
                session.commit()
                outcome.append(None)
            except Exception as exc:
                outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive(), f"it did not wait for the other transaction: {outcome}"

    def result() -> BaseException | None:
        thread.join(30)
        assert outcome, "it still waits after 30 s"
        return outcome[0]

    return result


def _seed(db: Database, sequences: tuple[str, ...] = ("First",), contacts: int = 1) -> Database:
    with write(db) as session:
        for name in sequences:
            store(session, ONE_STEP.format(name=name), START)
        for number in range(contacts):
            add_contact(session, START, email=f"c{number}@example.com", phone=None)
    return db
