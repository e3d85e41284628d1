"""Inserting many rows that differ only in a few ids: the rest is converted once.

A bulk enrollment writes thousands of rows alike but for their id and contact: every contact
in a time zone gets the same step, due time, state and history entry. Each distinct set of
shared values is converted once to what the database takes (COPY text on PostgreSQL, the
forms SQLAlchemy stores on SQLite), so a row costs a string join or a tuple, not a
conversion per value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from cadenza.store.bulk import driver_cursor

# A row: its own values (ids, or None) for the leading columns, and the values it shares.
Row = tuple[tuple[int | None, ...], dict[str, Any]]

# What PostgreSQL's COPY text format escapes inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
T = TypeVar("T")
# The sequence is looked up once: pg_get_serial_sequence is STABLE, so in the select list it
# would run (a catalog lookup) for every id drawn, which costs six times the nextval itself.
_PG_DRAW_IDS = (
    "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
    "SELECT nextval(s.seq) FROM s, generate_series(1, %s)"
)


def draw_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`, in order, to be written explicitly.

    PostgreSQL draws them from the table's sequence, so concurrent writers never collide.
    SQLite continues from the largest id, as it would itself: its single writer holds the
    write lock, and should another have written since this transaction read, the insert
    fails (busy snapshot or duplicate key) rather than reuse an id.
    """
    if count == 0:
        return []
    cursor = driver_cursor(session)
    if session.get_bind().dialect.name == "postgresql":
        cursor.execute(_PG_DRAW_IDS, (table.name, count))
        return [row[0] for row in cursor.fetchall()]
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table.name}")
    (last,) = cursor.fetchone()
    cursor.close()
    return list(range(last + 1, last + 1 + count))


def insert(session: Session, table: Table, own: Sequence[str], rows: Sequence[Row]) -> None:
    """Insert rows given as (their values for the `own` columns, the values they share).

    Rows that share values should share the same dict, which is converted once; every dict
    has the same keys. A column in neither gets the database's default, as with COPY.
    """
    if not rows:
        return
    shared = [c for c in rows[0][1] if c not in own]
    columns = ", ".join([*own, *shared])
    dialect = session.get_bind().dialect
    cursor = driver_cursor(session)
    if dialect.name == "postgresql":
        as_text = _once(lambda values: "\t".join(_copy_texts(table, shared, values)))
        lines = [
            "\t".join(["\\N" if v is None else str(v) for v in ids]) + "\t" + as_text(values)
            for ids, values in rows
        ]
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            copy.write("\n".join(lines) + "\n")
        return
    processors = [
        (c, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in shared
    ]
    as_values = _once(
        lambda values: tuple(values[c] if p is None else p(values[c]) for c, p in processors)
    )
    marks = ", ".join("?" * (len(own) + len(shared)))
    cursor.executemany(
        f"INSERT INTO {table.name} ({columns}) VALUES ({marks})",
        [ids + as_values(values) for ids, values in rows],
    )
    cursor.close()


def _once(convert: Callable[[dict[str, Any]], T]) -> Callable[[dict[str, Any]], T]:
    """`convert`, run once per dict object (the rows of a call hold on to their dicts)."""
    done: dict[int, T] = {}

    def converted(values: dict[str, Any]) -> T:
        found = done.get(id(values))
        if found is None:
            found = done[id(values)] = convert(values)
        return found

    return converted


def _copy_texts(table: Table, columns: list[str], values: dict[str, Any]) -> list[str]:
    return [_copy_text(values[c], isinstance(table.c[c].type, JSON)) for c in columns]


def _copy_text(value: Any, as_json: bool) -> str:
    """A value in COPY's text format (as psycopg's write_row would send it)."""
    if as_json:
        value = json.dumps(value)
    elif value is None:
        return "\\N"
    elif isinstance(value, bool):
        return "t" if value else "f"
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    elif not isinstance(value, str):
        return str(value)
    return value.translate(_COPY_ESCAPES)  # type: ignore[no-any-return]
