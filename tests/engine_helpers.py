"""Helpers for engine tests: store a definition, add contacts, run the worker at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.benchmarks.databases import synthetic_contacts
from cadenza.clock import FixedClock, parse_instant
from cadenza.core.definition import Definition
from cadenza.core.lint import lint_text
from cadenza.engine.worker import Worker
from cadenza.services.sequences import apply_definition
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Contact
from tests.conftest import Database

SETTINGS = Settings(environment="test")


def at(text: str) -> datetime:
    return parse_instant(text)


def store(session: Session, text: str, now: datetime) -> Definition:
    """Lint and apply a definition, as `cadenza apply` does (a new version when it changed)."""
    definition, problems = lint_text(text, "test.yaml")
    assert definition is not None and not problems, [str(p) for p in problems]
    apply_definition(session=session, definition=definition, source=text, now=now)
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
    return synthetic_contacts(session, count, now)


def cadenza_command(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    import sys
    from pathlib import Path

    return [str(Path(sys.executable).with_name("cadenza")), *args]
