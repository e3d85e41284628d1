"""Engines for SQLite (embedded default) and PostgreSQL, made with SQLAlchemy Core alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Engine, create_engine, event, make_url

from cadenza.store.gate import WriteGate
from cadenza.store_settings import store_settings

# Connections a process keeps open at most. All of them stay in the pool once opened: with
# a pool of 5 and 10 more "overflow" connections, each one past the fifth was closed when
# given back and opened anew by the next request, ~20 new PostgreSQL sessions a second under
# 20 API clients (a process forked and its catalog read again each time). A worker or a
# command opens only the few it uses at once.
POOL_SIZE = 15
_GATED = "cadenza_write_gate"  # on a connection's info: it holds its turn to write
_GATES: WeakKeyDictionary[Engine, WriteGate] = WeakKeyDictionary()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, synchronous: str | None = None) -> Engine:
    """An engine for `url` (default: settings); SQLite gets WAL, synchronous=FULL, busy timeout."""
    if not url or synchronous is None:
        settings = store_settings()
        url = url or settings.database_url
        synchronous = synchronous or settings.sqlite_synchronous
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            # `cadenza init` with CADENZA_DATABASE_URL=sqlite:///var/cadenza.db on a fresh
            # clone: the folder is made, as SQLite makes the file.
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30},
            json_deserializer=orjson.loads,
            pool_size=POOL_SIZE,
            max_overflow=0,
        )
        _configure_sqlite(engine, synchronous)
        return engine
    # Sessions in UTC: psycopg then hands back datetimes in the fixed `timezone.utc`, which
    # compares and converts far faster than the ZoneInfo of a named server zone.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=0,
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
