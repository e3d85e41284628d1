"""Bulk writes for the hot paths, on the driver's own cursor.

PostgreSQL pays per statement and per round trip: a batch of hundreds of rows goes over as
one JSON document (serialised by orjson in C) that one INSERT or UPDATE takes apart with
jsonb_to_recordset. SQLite runs in-process, where executemany is the fastest path; there
the cost is SQLAlchemy's per-row parameter processing, so values are converted here, once,
into what SQLAlchemy would have stored: times as UTC text with microseconds, JSON as text.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from cadenza.errors import ValidationFailed
from cadenza.store.models import Enrollment, UTCDateTime

ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
# The columns a decision changes, with their PostgreSQL types.
_STATE_COLUMNS = (
    ("status", "text"),
    ("step", "text"),
    ("due_at", "timestamptz"),
    ("last_step_at", "timestamptz"),
    ("outcome", "text"),
    ("exit_reason", "text"),
    ("state", "jsonb"),
    ("paused_from", "text"),
    ("paused_by", "text"),
    ("updated_at", "timestamptz"),
)
_PG_UPDATE = (
    "UPDATE enrollments AS e SET "
    + ", ".join(f"{name} = v.{name}" for name, _type in _STATE_COLUMNS)
    + " FROM jsonb_to_recordset(%s::jsonb) AS v(_id bigint, "
    + ", ".join(f"{name} {kind}" for name, kind in _STATE_COLUMNS)
    + ") WHERE e.id = v._id"
)

_SQLITE_UPDATE = (
    "UPDATE enrollments SET "
    + ", ".join(f"{name} = ?" for name, _kind in _STATE_COLUMNS)
    + " WHERE id = ?"
)


def dumps(value: Any) -> str:
    """JSON text for a JSON column (orjson: the worker writes one or two per step).

    Keys that are not strings become strings, as json.dumps (and SQLAlchemy) would do.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


loads = orjson.loads

# A batch writes the same few instants over and over (now, the next due time): their text
# is kept rather than formatted again for every row.
_time_text: dict[datetime, str] = {}


def sqlite_time(value: datetime | None) -> str | None:
    """A time as SQLAlchemy stores it in SQLite (UTC, naive, always with microseconds)."""
    if value is None:
        return None
    found = _time_text.get(value)
    if found is None:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        found = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if len(_time_text) >= 4096:
            _time_text.clear()
        _time_text[value] = found
    return found


def sqlite_datetime(value: str | None) -> datetime | None:
    """The reverse of `sqlite_time`: an aware UTC datetime."""
    if value is None:
        return None
    if len(value) == 26:  # as written above: parsing an offset is faster than replace()
        return datetime.fromisoformat(value + "+00:00")
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def driver_cursor(session: Session) -> Any:
    """The driver's cursor on the session's connection (inside its transaction)."""
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def _sqlite_converters(table: Table, columns: list[str]) -> list[Callable[[Any], Any] | None]:
    def converter(column: str) -> Callable[[Any], Any] | None:
        kind = table.c[column].type
        if isinstance(kind, JSON):
            return dumps
        if isinstance(kind, UTCDateTime):
            return sqlite_time
        return None

    return [converter(c) for c in columns]


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows that all have the same keys, in one statement.

    A column missing from the rows gets the database's default, not the model's.
    """
    if not rows:
        return
    columns = list(rows[0])
    cursor = driver_cursor(session)
    if not _postgres(session):
        converters = list(enumerate(_sqlite_converters(table, columns)))
        values = [[row[c] for c in columns] for row in rows]
        for index, convert in converters:
            if convert is not None:
                for value in values:
                    value[index] = convert(value[index])
        marks = ", ".join("?" * len(columns))
        cursor.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values
        )
        cursor.close()
        return
    # One JSON document for all the rows, serialised in C and taken apart by the server:
    # for Python a fraction of what COPY's per-row, per-value writing costs.
    cursor.execute(
        _pg_insert(table, tuple(columns)),
        (orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode(),),
    )


@lru_cache(maxsize=64)
def _pg_insert(table: Table, columns: tuple[str, ...]) -> str:
    """INSERT … SELECT FROM jsonb_to_recordset for these columns of `table`."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = ", ".join(f"{c} {table.c[c].type.compile(dialect=dialect)}" for c in columns)
    # A JSON value of null stays JSON null, as SQLAlchemy would store it (not SQL NULL).
    values = ", ".join(
        f"coalesce(v.{c}, 'null'::jsonb)" if isinstance(table.c[c].type, JSON) else f"v.{c}"
        for c in columns
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {values} FROM jsonb_to_recordset(%s::jsonb) AS v({types})"
    )


def update_enrollments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write decided states (`_id` plus the state columns) in one statement."""
    if not rows:
        return
    cursor = driver_cursor(session)
    if not _postgres(session):
        time = sqlite_time
        cursor.executemany(
            _SQLITE_UPDATE,
            [
                (
                    row["status"],
                    row["step"],
                    time(row["due_at"]),
                    time(row["last_step_at"]),
                    row["outcome"],
                    row["exit_reason"],
                    dumps(row["state"]),
                    row["paused_from"],
                    row["paused_by"],
                    time(row["updated_at"]),
                    row["_id"],
                )
                for row in rows
            ],
        )
        cursor.close()
        return
    # One JSON document for the batch, serialised in C and taken apart by the server:
    # cheaper for Python than one typed array per column.
    cursor.execute(_PG_UPDATE, (orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode(),))


CHUNK = 900  # below SQLite's bound-parameter limit


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cycle collector paused for a block, then restored as it was.

    A bulk import or enrollment makes a few small objects per row and no cycles; the
    collector's passes over them cost a fifth to a quarter of its time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def known_status(status: str | None, statuses: tuple[str, ...], what: str) -> str | None:
    """`status` when it is one of `statuses`; ValidationFailed naming them when it is not."""
    if status is not None and status not in statuses:
        raise ValidationFailed(
            f"{status!r} is not a status of {what} (one of {', '.join(statuses)})"
        )
    return status
