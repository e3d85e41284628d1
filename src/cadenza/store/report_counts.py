"""The reports' counters, kept in the transaction that writes the history they count.

A batch of history adds its enrollments' firsts (`report_firsts`, whose key drops what an
enrollment already did) and adds the new ones to the counters (`report_counts`), in one
statement on PostgreSQL (a writable CTE fed by arrays, which needs no answer, so it rides
in the worker's pipeline) and in two on SQLite. Counter rows are written in key order and
each transaction picks a shard, so concurrent workers neither deadlock nor queue on them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cadenza.store.bulk import chunks, driver_cursor
from cadenza.store.models import ReportCount, ReportFirst

SHARDS = 16


class First(NamedTuple):
    """An enrollment's first time for one figure (its key, then where it is counted)."""

    enrollment_id: int
    metric: str
    step: str
    detail: str
    day: date | str  # a date, or its ISO text
    variant: str
    who: str
    sequence_id: int


# A counter's key, in the order of report_counts' unique constraint (less the shard).
_KEY = "sequence_id, day, metric, step, detail, variant, who, version_id"
# The batch travels as one JSON text: PostgreSQL reads it with json_to_recordset in less
# than half the time eight parallel arrays take to send and unpack.
_FIELDS = ("e", "m", "s", "d", "day", "var", "who", "seq")
_PG_ADD = f"""
WITH v AS (
  SELECT * FROM json_to_recordset(%(rows)s::json) AS v(
    e bigint, m text, s text, d text, day date, var text, who text, seq integer)
), new AS (
  INSERT INTO report_firsts
    (enrollment_id, metric, step, detail, sequence_id, version_id, day, variant, who)
  SELECT v.e, v.m, v.s, v.d, v.seq, e.version_id, v.day, v.var, v.who
  FROM v JOIN enrollments e ON e.id = v.e
  ORDER BY 1, 2, 3, 4
  ON CONFLICT DO NOTHING
  RETURNING {_KEY}
)
INSERT INTO report_counts ({_KEY}, shard, n)
SELECT {_KEY}, %(shard)s, count(*) FROM new
GROUP BY {_KEY} ORDER BY {_KEY}
ON CONFLICT ({_KEY}, shard) DO UPDATE SET n = report_counts.n + EXCLUDED.n
"""
# The version comes from the enrollment, in the same statement; `WHERE true` tells SQLite's
# parser that ON CONFLICT belongs to the INSERT, not to the join.
_SQLITE_FIRSTS = (
    "INSERT INTO report_firsts (enrollment_id, metric, step, detail, day, variant, who,"
    " sequence_id, version_id) SELECT v.column1, v.column2, v.column3, v.column4, v.column5,"
    " v.column6, v.column7, v.column8, e.version_id FROM (VALUES {marks}) AS v"
    " JOIN enrollments e ON e.id = v.column1 WHERE true"
    " ON CONFLICT DO NOTHING RETURNING " + _KEY
)
_SQLITE_COUNT = (
    f"INSERT INTO report_counts ({_KEY}, shard, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    f" ON CONFLICT ({_KEY}, shard) DO UPDATE SET n = report_counts.n + excluded.n"
)
_SQLITE_ROWS = 300  # rows per VALUES list (8 parameters each, under SQLite's limit)


def add(session: Session, firsts: Sequence[First]) -> None:
    """Count what these enrollments did for the first time (what they did before is dropped)."""
    if not firsts:
        return
    cursor = driver_cursor(session)
    if session.get_bind().dialect.name == "postgresql":  # orjson writes a date as ISO text
        text = orjson.dumps([dict(zip(_FIELDS, first, strict=True)) for first in firsts]).decode()
        cursor.execute(_PG_ADD, {"rows": text, "shard": random.randrange(SHARDS)})
        return
    rows = [(*f[:4], _iso(f.day), *f[5:]) for f in firsts]
    new: Counter[tuple[object, ...]] = Counter()
    for start in range(0, len(rows), _SQLITE_ROWS):
        batch = rows[start : start + _SQLITE_ROWS]
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(batch))
        flat = [value for row in batch for value in row]
        new.update(tuple(r) for r in cursor.execute(_SQLITE_FIRSTS.format(marks=marks), flat))
    if new:
        cursor.executemany(_SQLITE_COUNT, [(*key, 0, n) for key, n in sorted(new.items())])


def _iso(day: date | str) -> str:
    return day if isinstance(day, str) else day.isoformat()


def take_back(session: Session, enrollment_ids: Iterable[int]) -> None:
    """Remove enrollments from every figure (their history is being deleted)."""
    ids = sorted(set(enrollment_ids))
    if not ids:
        return
    f = ReportFirst
    key = (f.sequence_id, f.day, f.metric, f.step, f.detail, f.variant, f.who, f.version_id)
    gone: Counter[tuple[object, ...]] = Counter()
    for batch in chunks(ids):
        found = session.execute(select(*key).where(f.enrollment_id.in_(batch)))
        gone.update(tuple(row) for row in found)
        session.execute(delete(f).where(f.enrollment_id.in_(batch)))
    if not gone:
        return
    c = ReportCount
    columns = (c.sequence_id, c.day, c.metric, c.step, c.detail, c.variant, c.who, c.version_id)
    for values, n in sorted(gone.items()):
        where = [column == value for column, value in zip(columns, values, strict=True)]
        # Any shard holds the figure: take it from the one with the most.
        target = session.scalar(select(c.id).where(*where).order_by(c.n.desc()).limit(1))
        session.execute(update(c).where(c.id == target).values(n=c.n - n))


def keep_winner(session: Session, sequence_id: int, step: str, variant: str, day: date) -> None:
    """Keep an A/B step's winner beside its figures (the first one kept stays)."""
    cursor = driver_cursor(session)
    mark = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    cursor.execute(
        f"INSERT INTO report_counts ({_KEY}, shard, n) VALUES ({', '.join([mark] * 10)})"
        f" ON CONFLICT ({_KEY}, shard) DO NOTHING",
        (sequence_id, day if mark == "%s" else day.isoformat(), "winner", step, variant, "",
         "", 0, 0, 1),
    )  # fmt: skip
    cursor.close()
