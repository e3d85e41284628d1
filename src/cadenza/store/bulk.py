"""Bulk writes for the hot paths, on the driver's own cursor.

PostgreSQL pays per statement and per round trip: a batch of hundreds of rows goes over as
one JSON document (serialised by orjson in C) that one INSERT or UPDATE takes apart with
jsonb_to_recordset. SQLite runs in-process, where executemany is the fastest path; there
the cost is SQLAlchemy's per-row parameter processing, so values are converted here, once,
into what SQLAlchemy would have stored: times as UTC text with microseconds, JSON as text.
"""

from __future__ import annotations

import gc
import json
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
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits: as the json module writes it
        return json.dumps(value)


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


def _sqlite_values(
    table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[list[Any]]:
    """The rows' values in the order of `columns`, as SQLAlchemy would have stored them."""
    values = [[row[c] for c in columns] for row in rows]
    for index, convert in enumerate(_sqlite_converters(table, list(columns))):
        if convert is not None:
            for value in values:
                value[index] = convert(value[index])
    return values


def _document(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON document for jsonb_to_recordset (orjson, in C).

    A value orjson refuses (an integer past 64 bits, from someone's field) is written as the
    json module, which SQLAlchemy uses for JSON columns, would have written it.
    """
    try:
        return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, default=_json_default)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_existing: bool = False,
) -> None:
    """Insert many rows that all have the same keys, in one statement.

    A column missing from the rows gets the database's default, not the model's.
    `skip_existing`: a row whose key is there already is left out (ON CONFLICT DO NOTHING).
    """
    if not rows:
        return
    columns = list(rows[0])
    cursor = driver_cursor(session)
    skip = " ON CONFLICT DO NOTHING" if skip_existing else ""
    if not _postgres(session):
        marks = ", ".join("?" * len(columns))
        cursor.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}){skip}",
            _sqlite_values(table, columns, rows),
        )
        cursor.close()
        return
    # One JSON document for all the rows, serialised in C and taken apart by the server:
    # for Python a fraction of what COPY's per-row, per-value writing costs.
    cursor.execute(_pg_insert(table, tuple(columns)) + skip, (_document(rows),))


def _pg_types(table: Table, columns: Iterable[str]) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return ", ".join(f"{c} {table.c[c].type.compile(dialect=dialect)}" for c in columns)


def _pg_value(table: Table, column: str) -> str:
    # A JSON value of null stays JSON null, as SQLAlchemy would store it (not SQL NULL).
    if isinstance(table.c[column].type, JSON):
        return f"coalesce(v.{column}, 'null'::jsonb)"
    return f"v.{column}"


@lru_cache(maxsize=64)
def _pg_insert(table: Table, columns: tuple[str, ...]) -> str:
    """INSERT … SELECT FROM jsonb_to_recordset for these columns of `table`."""
    values = ", ".join(_pg_value(table, c) for c in columns)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {values} FROM jsonb_to_recordset(%s::jsonb) AS v({_pg_types(table, columns)})"
    )


def update_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Set columns of many rows of `table` in one statement; each row names its own by `_id`.

    The rows all have the same keys, and no two the same `_id`. On PostgreSQL the rows are
    locked in id order first, as one UPDATE per row in that order would lock them: two
    transactions updating some of the same rows then wait for each other, never deadlock.
    """
    if not rows:
        return
    columns = tuple(c for c in rows[0] if c != "_id")
    cursor = driver_cursor(session)
    if not _postgres(session):
        sets = ", ".join(f"{c} = ?" for c in columns)
        values = _sqlite_values(table, columns, rows)
        for value, row in zip(values, rows, strict=True):
            value.append(row["_id"])
        cursor.executemany(f"UPDATE {table.name} SET {sets} WHERE id = ?", values)
        cursor.close()
        return
    ordered = sorted(rows, key=lambda row: row["_id"])
    cursor.execute(_pg_update(table, columns), (_document(ordered),))


@lru_cache(maxsize=64)
def _pg_update(table: Table, columns: tuple[str, ...]) -> str:
    """UPDATE … FROM jsonb_to_recordset for these columns of `table`, rows locked in id order."""
    name, types = table.name, _pg_types(table, columns)
    sets = ", ".join(f"{c} = {_pg_value(table, c)}" for c in columns)
    return (
        f"WITH v AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(%s::jsonb) "
        f"AS v(_id bigint, {types})), "
        f"locked AS MATERIALIZED (SELECT t.id FROM {name} AS t WHERE t.id IN "
        f"(SELECT _id FROM v) ORDER BY t.id FOR UPDATE OF t) "
        f"UPDATE {name} AS t SET {sets} FROM v JOIN locked ON locked.id = v._id "
        f"WHERE t.id = v._id"
    )


def delete_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Delete the rows of `table` whose columns have each of these rows' values (same keys)."""
    if not rows:
        return
    columns = tuple(rows[0])
    cursor = driver_cursor(session)
    if not _postgres(session):
        where = " AND ".join(f"{c} = ?" for c in columns)
        cursor.executemany(
            f"DELETE FROM {table.name} WHERE {where}", _sqlite_values(table, columns, rows)
        )
        cursor.close()
        return
    cursor.execute(_pg_delete(table, columns), (_document(rows),))


@lru_cache(maxsize=64)
def _pg_delete(table: Table, columns: tuple[str, ...]) -> str:
    where = " AND ".join(f"t.{c} = v.{c}" for c in columns)
    return (
        f"DELETE FROM {table.name} AS t USING jsonb_to_recordset(%s::jsonb) "
        f"AS v({_pg_types(table, columns)}) WHERE {where}"
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
