"""The database `cadenza bench ui` measures: 100,000 contacts, 50,000 open tasks and
1,000,000 history rows, written by bulk inserts and kept between runs (building it is the
slow part; the pages are what is measured).

One sequence also holds a queue of 50,000 more running enrollments (a big campaign's), and
half the sequences are private to their owner, so that an agent's pages filter by what they
may see as they would in a real team."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cadenza.benchmarks.databases import store_sequence, synthetic_contacts
from cadenza.services.users.passwords import hash_password
from cadenza.store import migrate
from cadenza.store.bulk import insert_rows
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact, Enrollment, Event, Sender, SequenceVersion, Task, User

PASSWORD = "bench ui password"
ADMIN = "admin@bench.example"
AGENT = "agent0@bench.example"
AGENTS = 10
SEQUENCES = 20
BATCH = 20_000
QUEUE = 50_000  # running enrollments of the first sequence beside those with tasks
KINDS = ("call", "call", "task", "manual_email", "manual_sms", "linkedin")
TYPES = ("step_executed", "message_sent", "deferred", "opened", "task_created", "clicked")


@dataclass(frozen=True)
class Scale:
    """How big the measured database is."""

    contacts: int = 100_000
    open_tasks: int = 50_000
    history: int = 1_000_000

    @property
    def label(self) -> str:
        return f"{self.contacts}-{self.open_tasks}-{self.history}"


def sqlite_url(scale: Scale, folder: Path | None = None) -> str:
    """Where the kept SQLite database lives (a file per scale and schema)."""
    base = folder or Path(tempfile.gettempdir()) / "cadenza-bench-ui"
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{base / f'ui-{scale.label}.db'}"


def postgres_url(scale: Scale, server: str) -> str:
    """The kept PostgreSQL database's URL, made on `server` when missing."""
    name = f"cadenza_bench_ui_{scale.label.replace('-', '_')}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found.first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def ready(url: str, scale: Scale, report: Callable[[str], None] | None = None) -> bool:
    """True when the database at `url` holds a complete build of `scale`.

    A database kept from a run of other code may carry a schema revision this code does not
    know (a branch's migration): it is made anew, empty, rather than refused.
    """
    try:
        _upgrade(url)
    except CommandError as exc:
        if report is not None:
            report(f"the kept database's schema is not this code's ({exc}): making it anew")
        _start_over(url)
        _upgrade(url)
        return False
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            open_tasks = select(func.count()).select_from(Task).where(Task.status == "open")
            enrolled = scale.open_tasks + QUEUE
            return (
                session.scalar(select(func.count()).select_from(Enrollment)) == enrolled
                and session.scalar(select(func.count()).select_from(Contact)) == scale.contacts
                and session.scalar(open_tasks) == scale.open_tasks
                and session.scalar(select(func.count()).select_from(Event)) == scale.history
            )
    finally:
        engine.dispose()


def _upgrade(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _start_over(url: str) -> None:
    """An empty database at `url`: the SQLite file removed, the PostgreSQL database remade."""
    made = make_url(url)
    if made.get_backend_name() == "sqlite":
        Path(made.database or "").unlink(missing_ok=True)
        return
    admin = create_engine(made.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{made.database}"'))
    finally:
        admin.dispose()


def build(url: str, scale: Scale, now: datetime, report: Callable[[str], None]) -> None:
    """Empty the database at `url` and fill it to `scale`."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("events", "tasks", "enrollments", "contacts", "senders"):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("DELETE FROM sequences"))
            conn.execute(text("DELETE FROM users"))
        sessions = session_factory(engine)
        with writing(sessions) as session:
            users = _people(session, now)
            versions = _sequences(session, now, users[0])
            report(f"writing {scale.contacts:,} contacts")
            contacts = synthetic_contacts(session, scale.contacts, now, company=True)
        report(f"writing {scale.open_tasks:,} enrollments with an open task each")
        with writing(sessions) as session:
            _tasks(session, scale, now, contacts, versions, users)
        report(f"writing a queue of {QUEUE:,} running enrollments in one sequence")
        with writing(sessions) as session:
            _queue(session, now, contacts, versions[0])
        report(f"writing {scale.history:,} history rows")
        _history(sessions, scale, now, contacts, versions)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _people(session: Session, now: datetime) -> list[int]:
    secret = hash_password(PASSWORD)
    emails = [ADMIN, *(f"agent{i}@bench.example" for i in range(AGENTS))]
    ids = []
    for email in emails:
        role = "admin" if email == ADMIN else "agent"
        user = User(email=email, name=email.split("@")[0], role=role, created_at=now)
        user.password_hash = secret
        session.add(user)
        session.flush()
        ids.append(user.id)
    session.add(Sender(kind="email", address="sales@bench.example", name="Sales"))
    return ids


def _sequences(session: Session, now: datetime, owner: int) -> list[tuple[int, int]]:
    pairs = []
    for i in range(SEQUENCES):
        source = {
            "name": f"Bench {i:02d}",
            "owner": ADMIN,
            "senders": {"email": "sales@bench.example"},
            "steps": [
                {"key": "intro", "action": "email", "subject": "Hi", "body": "Hello"},
                {"key": "call", "action": "call", "assignee": "contact_owner"},
            ],
        }
        sequence_id = store_sequence(session, source, now)
        version = session.scalar(
            select(SequenceVersion.id).where(SequenceVersion.sequence_id == sequence_id)
        )
        assert version is not None
        pairs.append((sequence_id, version))
    session.execute(text("UPDATE sequences SET owner_id = :o"), {"o": owner})
    private = [sequence_id for sequence_id, _version in pairs[1::2]]
    session.execute(
        text("UPDATE sequences SET sharing = 'private' WHERE id = :i"), [{"i": i} for i in private]
    )
    return pairs


def _queue(session: Session, now: datetime, contacts: list[int], version: tuple[int, int]) -> None:
    """Running enrollments of one sequence at every status a queue shows, due over a month."""
    statuses = ("active", "waiting", "active", "paused")
    for start in range(0, QUEUE, BATCH):
        rows = [
            {
                "sequence_id": version[0],
                "version_id": version[1],
                "contact_id": contacts[(i * 13) % len(contacts)],
                "status": statuses[i % len(statuses)],
                "step": "intro",
                "due_at": now + timedelta(minutes=(i * 53) % (30 * 24 * 60)),
                "enrolled_at": now - timedelta(days=1),
                "updated_at": now,
                "state": {},
            }
            for i in range(start, min(start + BATCH, QUEUE))
        ]
        insert_rows(session, Enrollment.__table__, rows)  # type: ignore[arg-type]


def _tasks(
    session: Session,
    scale: Scale,
    now: datetime,
    contacts: list[int],
    versions: list[tuple[int, int]],
    users: list[int],
) -> None:
    for start in range(0, scale.open_tasks, BATCH):
        numbers = range(start, min(start + BATCH, scale.open_tasks))
        enrollments = [_enrollment(i, now, contacts, versions) for i in numbers]
        insert_rows(session, Enrollment.__table__, enrollments)  # type: ignore[arg-type]
        first = session.scalar(select(func.max(Enrollment.id))) or 0
        ids = list(range(first - len(enrollments) + 1, first + 1))
        rows = [
            _task(i, enrollment_id, now, contacts, versions, users)
            for i, enrollment_id in zip(numbers, ids, strict=True)
        ]
        insert_rows(session, Task.__table__, rows)  # type: ignore[arg-type]


def _enrollment(
    i: int, now: datetime, contacts: list[int], versions: list[tuple[int, int]]
) -> dict[str, Any]:
    sequence_id, version_id = versions[i % len(versions)]
    return {
        "sequence_id": sequence_id,
        "version_id": version_id,
        "contact_id": contacts[i % len(contacts)],
        "status": "waiting",
        "step": "call",
        "due_at": None,
        "enrolled_at": now - timedelta(days=3),
        "updated_at": now,
        "state": {},
    }


def _task(
    i: int,
    enrollment_id: int,
    now: datetime,
    contacts: list[int],
    versions: list[tuple[int, int]],
    users: list[int],
) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    return {
        "enrollment_id": enrollment_id,
        "contact_id": contacts[i % len(contacts)],
        "sequence_id": versions[i % len(versions)][0],
        "step": "call",
        "kind": kind,
        "assignee_id": users[1 + i % AGENTS],
        "title": f"{kind.replace('_', ' ')} Pat{i}",
        "priority": ("high", "normal", "low")[i % 3],
        "reminder": False,
        "status": "open",
        "due_at": now + timedelta(minutes=(i * 37) % (14 * 24 * 60) - 7 * 24 * 60),
        "created_at": now - timedelta(days=1),
    }


def _history(
    sessions: Any,
    scale: Scale,
    now: datetime,
    contacts: list[int],
    versions: list[tuple[int, int]],
) -> None:
    span = 90 * 24 * 3600
    for start in range(0, scale.history, BATCH):
        rows: list[dict[str, Any]] = [
            {
                "time": now - timedelta(seconds=span - (i * span) // scale.history),
                "type": TYPES[i % len(TYPES)],
                "contact_id": contacts[(i * 7) % len(contacts)],
                "sequence_id": versions[i % len(versions)][0],
                "enrollment_id": None,
                "step": "intro",
                "actor": "system",
                "reason": None,
                "data": {},
            }
            for i in range(start, min(start + BATCH, scale.history))
        ]
        with writing(sessions) as session:
            insert_rows(session, Event.__table__, rows)  # type: ignore[arg-type]
