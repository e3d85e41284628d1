"""Bulk writes for the hot paths, on the driver's own cursor.

PostgreSQL pays per statement and per round trip: COPY and an UPDATE over unnested arrays
make a batch of hundreds of rows one or two round trips. SQLite runs in-process, where
executemany is the fastest path; there the cost is SQLAlchemy's per-row parameter
processing, so values are converted here, once, into what SQLAlchemy would have stored:
times as UTC text with microseconds, JSON as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from cadenza.store.models import Enrollment, UTCDateTime

ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
# The columns a decision changes, with their PostgreSQL array types for unnest().
_STATE_COLUMNS = (
    ("status", "text"),
    ("step", "text"),
    ("due_at", "timestamptz"),
    ("last_step_at", "timestamptz"),
    ("outcome", "text"),
    ("exit_reason", "text"),
    ("state", "text"),
    ("updated_at", "timestamptz"),
)
_PG_UPDATE = (
    "UPDATE enrollments AS e SET "
    + ", ".join(
        f"{name} = v.{name}::jsonb" if name == "state" else f"{name} = v.{name}"
        for name, _type in _STATE_COLUMNS
    )
    # %(name)b: the arrays go over in binary, with no quoting pass over every value.
    + " FROM unnest(%(_id)b::bigint[], "
    + ", ".join(f"%({name})b::{kind}[]" for name, kind in _STATE_COLUMNS)
    + ") AS v(id, "
    + ", ".join(name for name, _type in _STATE_COLUMNS)
    + ") WHERE e.id = v.id"
)


_SQLITE_UPDATE = (
    "UPDATE enrollments SET "
    + ", ".join(f"{name} = ?" for name, _kind in _STATE_COLUMNS)
    + " WHERE id = ?"
)


def dumps(value: Any) -> str:
    """JSON text for a JSON column (orjson: the worker writes one or two per step)."""
    return orjson.dumps(value).decode()


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


def _cursor(session: Session) -> Any:
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
    """Insert many rows that all have the same keys: COPY on PostgreSQL, executemany on SQLite.

    Like COPY, a column missing from the rows gets the database's default, not the model's.
    """
    if not rows:
        return
    columns = list(rows[0])
    cursor = _cursor(session)
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
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([dumps(row[c]) if c in as_json else row[c] for c in columns])


def update_enrollments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write decided states (`_id` plus the state columns) in one statement."""
    if not rows:
        return
    cursor = _cursor(session)
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
                    time(row["updated_at"]),
                    row["_id"],
                )
                for row in rows
            ],
        )
        cursor.close()
        return
    params: dict[str, list[Any]] = {"_id": [row["_id"] for row in rows]}
    for name, _kind in _STATE_COLUMNS:
        values = [row[name] for row in rows]
        params[name] = [dumps(v) for v in values] if name == "state" else values
    cursor.execute(_PG_UPDATE, params)
