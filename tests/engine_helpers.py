"""Helpers for engine tests: store a definition, add contacts, run the worker at a time."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.clock import FixedClock, parse_instant
from cadenza.core.definition import Definition
from cadenza.core.lint import lint_text
from cadenza.engine.worker import Worker
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Contact, Sequence, SequenceVersion
from tests.conftest import Database

SETTINGS = Settings(environment="test")


def at(text: str) -> datetime:
    return parse_instant(text)


def store(session: Session, text: str, now: datetime, status: str = "active") -> Definition:
    """Store a definition as a new version of its sequence (the engine's view of `apply`)."""
    definition, problems = lint_text(text, "test.yaml")
    assert definition is not None and not problems, [str(p) for p in problems]
    data = definition.model_dump(mode="json", by_alias=True)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    sequence = session.execute(
        select(Sequence).where(Sequence.name == definition.name)
    ).scalar_one_or_none()
    if sequence is None:
        sequence = Sequence(name=definition.name, status=status, created_at=now, updated_at=now)
        session.add(sequence)
        session.flush()
    number = (
        len(
            session.scalars(
                select(SequenceVersion.id).where(SequenceVersion.sequence_id == sequence.id)
            ).all()
        )
        + 1
    )
    session.add(
        SequenceVersion(
            sequence_id=sequence.id,
            number=number,
            definition=data,
            digest=digest,
            source=text,
            created_at=now,
        )
    )
    session.flush()
    return definition


def add_contact(session: Session, now: datetime, **fields: Any) -> int:
    values: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "phone": "+13125550101",
        "timezone": "America/Chicago",
    }
    values.update(fields)
    contact = Contact(created_at=now, updated_at=now, fields=values.pop("fields", {}), **values)
    session.add(contact)
    session.flush()
    return contact.id


def run_worker(db: Database, now: str | datetime) -> int:
    instant = at(now) if isinstance(now, str) else now
    return Worker(db.sessions, FixedClock(instant), SETTINGS).drain()


def write(db: Database) -> Any:
    return writing(db.sessions)


def bulk_contacts(session: Session, count: int, now: datetime) -> list[int]:
    """Many contacts in a few statements (for concurrency and crash tests)."""
    from sqlalchemy import insert

    rows = [
        {
            "first_name": f"C{i}",
            "last_name": "Load",
            "email": f"c{i}@example.com",
            "phone": None,
            "timezone": "America/New_York",
            "fields": {},
            "dnc": False,
            "sms_opted_out": False,
            "email_unsubscribed": False,
            "email_bounced": False,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    return list(
        session.execute(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows
        ).scalars()
    )


def cadenza_command(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    import sys
    from pathlib import Path

    return [str(Path(sys.executable).with_name("cadenza")), *args]
