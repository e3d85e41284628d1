"""Throw-away databases for benchmarks: a SQLite file or a PostgreSQL database made and dropped."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition
from cadenza.store import migrate
from cadenza.store.db import make_engine
from cadenza.store.models import Contact, Sequence, SequenceVersion

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(backend: str, label: str, pg_url: str = DEFAULT_PG_URL) -> Iterator[str]:
    """A migrated, empty database's URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"cadenza-bench-{label}-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            _migrate(url)
            yield url
        return
    name = f"cadenza_bench_{label}_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg_url.rsplit("/", 1)[0] + f"/{name}"
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


def synthetic_contacts(
    session: Session, count: int, now: datetime, *, company: bool = False
) -> list[int]:
    """`count` made-up contacts (in UTC, reachable by email) in a few statements; their ids."""
    first = session.execute(select(func.count()).select_from(Contact)).scalar_one()
    ids: list[int] = []
    for start in range(first, first + count, 10_000):
        rows: list[dict[str, Any]] = [
            {
                "first_name": f"Pat{i}",
                "last_name": "Bench",
                "email": f"pat{i}@bench.example",
                "company": f"Company {i % 50}" if company else None,
                "timezone": "UTC",
                "fields": {},
                "dnc": False,
                "sms_opted_out": False,
                "email_unsubscribed": False,
                "email_bounced": False,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(start + 10_000, first + count))
        ]
        ids.extend(
            session.execute(
                insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
    return ids


def store_sequence(session: Session, source: dict[str, Any], now: datetime) -> int:
    """An active sequence of one version made of `source` (a definition as data); its id."""
    definition = Definition.model_validate(source).model_dump(mode="json", by_alias=True)
    sequence = Sequence(name=source["name"], status="active", created_at=now, updated_at=now)
    session.add(sequence)
    session.flush()
    session.add(
        SequenceVersion(
            sequence_id=sequence.id,
            number=1,
            definition=definition,
            digest=f"bench {source['name']}",
            source="",
            created_at=now,
        )
    )
    session.flush()
    return sequence.id
