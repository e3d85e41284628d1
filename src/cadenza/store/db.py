"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.settings import get_settings
from cadenza.store import fanout  # noqa: F401  (its flush hook keeps the SQLite trigger)
from cadenza.store.gate import WriteGate

_GATED = "cadenza_write_gate"  # on a connection's info: it holds its turn to write
_GATES: WeakKeyDictionary[Engine, WriteGate] = WeakKeyDictionary()


def is_database_error(exc: BaseException) -> bool:
    """True for an error of the database or its driver (a batch retries; a step does not fail)."""
    import sqlite3

    import psycopg

    return isinstance(exc, SQLAlchemyError | sqlite3.Error | psycopg.Error)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, synchronous: str | None = None) -> Engine:
    """An engine for `url` (default: settings); SQLite gets WAL, synchronous=FULL, busy timeout."""
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            # `cadenza init` with CADENZA_DATABASE_URL=sqlite:///var/cadenza.db on a fresh
            # clone: the folder is made, as SQLite makes the file.
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=orjson.loads)
        _configure_sqlite(engine, synchronous or settings.sqlite_synchronous)
        return engine
    # Sessions in UTC: psycopg then hands back datetimes in the fixed `timezone.utc`, which
    # compares and converts far faster than the ZoneInfo of a named server zone.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"options": "-c TimeZone=UTC"},
        json_deserializer=orjson.loads,  # JSON columns are read on every claimed row
    )


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is off: SQLAlchemy emits BEGIN itself (below),
        # so that writers can take the lock up front with BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    gate = _GATES[engine] = WriteGate()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Writers of this process queue in turn for the write lock (store/gate.py).
        holder = connection.info  # the pooled connection's own record: one per connection
        queued = mode == "IMMEDIATE" and gate.acquire(holder)
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            if queued:
                gate.release(holder)
            raise
        if queued:
            holder[_GATED] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(connection: Any) -> None:
        # The turn passes as the transaction ends; the next writer's BEGIN may meet the
        # COMMIT still being written and waits a millisecond in SQLite's busy handler.
        if connection.info.pop(_GATED, False):
            gate.release(connection.info)

    @event.listens_for(engine, "reset")
    def _reset(_dbapi_connection: Any, record: Any, _state: Any) -> None:
        if record.info.pop(_GATED, False):  # a transaction the pool ended, not a commit
            gate.release(record.info)


def write_gate(engine: Engine | None) -> WriteGate | None:
    """The gate this process's writers of a SQLite engine queue at (None on PostgreSQL)."""
    return _GATES.get(engine) if engine is not None else None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(factory: sessionmaker[Session], bind: Connection | None = None) -> Iterator[Session]:
    """A session whose transaction takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE).

    Taking the lock up front avoids the deadlock of two readers upgrading to writers; on
    PostgreSQL it is an ordinary transaction. Commits on success, rolls back on error.
    `bind`: a connection the caller holds (and keeps) instead of one from the pool.
    """
    with factory(bind=bind) if bind is not None else factory() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
