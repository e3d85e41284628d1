"""Which history the reports have counted, and the history written since.

`report_marks` holds a mark: every event id at or below it is counted. Whoever counts takes
the mark's row lock first (PostgreSQL; SQLite has one writer at a time anyway), so that two
counters never read the same events at once, and so that removing an enrollment's history
(which takes the same lock) never races a count of it.

PostgreSQL draws an id when a row is inserted, not when its transaction commits: id 105 can
still be in flight while 106 is committed and read. The ids below the highest one read that
were not seen are kept as holes, each with the snapshot's `xmax` at the time: every
transaction that could still fill it has an xid below that, so once the oldest transaction
still running (`xmin`) is past it, the hole is empty for good. Until then its range is read
again each time; counting is idempotent (a first is inserted once), so reading a row twice
adds nothing. The ids past the mark, their gaps and the rows to count are read by one
statement, so in one snapshot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from cadenza.store.bulk import driver_cursor
from cadenza.store.models import Event, ReportMark

NAME = "events"
CHUNK = 20_000  # events read per window: bounded memory, short locks
# A hole is let go only once it is also this old (seconds): an insert draws its id a moment
# before its transaction takes an xid, and that moment must be long past.
HOLE_GRACE = 1.0


@dataclass
class Mark:
    """The mark's row, locked by this transaction."""

    mark: int
    holes: list[list[float]] = field(default_factory=list)


def lock(session: Session, *, wait: bool = True) -> Mark | None:
    """Take the mark (None when another transaction holds it and `wait` is off)."""
    query = select(ReportMark.mark, ReportMark.holes).where(ReportMark.name == NAME)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=not wait)
    found = session.execute(query).first()
    if found is None:
        return None
    return Mark(int(found.mark), json.loads(found.holes or "[]"))


def behind(session: Session) -> bool:
    """Whether any history may be uncounted (a cheap look: the mark against the newest id)."""
    mark, holes = session.execute(
        select(ReportMark.mark, ReportMark.holes).where(ReportMark.name == NAME)
    ).one()
    newest = session.scalar(select(func.max(Event.id)))
    return (newest or 0) > mark or holes not in ("", "[]")


def window(
    session: Session, mark: Mark, types: Collection[str], limit: int = CHUNK
) -> tuple[list[Sequence[Any]], bool]:
    """The events of `types` past the mark (and in its holes), at most about `limit` ids on,
    as (UTC day, type, step, reason, actor, enrollment_id, sequence_id, and the data's
    enrollment_id, sender, variant, outcome, kind); moves the mark past them. Returns the
    rows and whether more may follow."""
    if session.get_bind().dialect.name == "postgresql":
        return _window_pg(session, mark, types, limit)
    newest = session.scalar(select(func.max(Event.id)).where(Event.id > mark.mark))
    if newest is None:
        return [], False
    top = min(int(newest), mark.mark + limit)
    query = text(_SQLITE_ROWS.format(kinds=_kinds(types)))
    rows: list[Sequence[Any]] = list(session.execute(query, {"mark": mark.mark, "top": top}))
    mark.mark = top
    return rows, top < newest


def _window_pg(
    session: Session, mark: Mark, types: Collection[str], limit: int
) -> tuple[list[Sequence[Any]], bool]:
    """One statement: the ids past the mark (their top, their count, the gaps between them)
    and the rows to count, in one snapshot; then the bounds of a snapshot taken after it."""
    holes = "".join(
        f" OR id BETWEEN {int(h[0])} AND {int(h[1])}" for h in mark.holes
    )  # integers this module wrote
    cursor = driver_cursor(session)
    cursor.execute(
        _PG_WINDOW.format(holes=holes, kinds=_kinds(types)), {"mark": mark.mark, "limit": limit}
    )
    found = cursor.fetchall()
    summary = next(row[0] for row in found if row[0] is not None)
    rows = [row[2:] for row in found if row[0] is None]
    # A snapshot taken after the read: its xmax is at least that of the read's, and covers
    # an insert that drew its id just before the read and took its xid just after.
    cursor.execute(_PG_SNAPSHOT)
    xmin, xmax = (int(value) for value in cursor.fetchone())
    now = time.time()
    kept = [h for h in mark.holes if not (xmin >= int(h[2]) and now - h[3] >= HOLE_GRACE)]
    kept.extend([int(first), int(last), xmax, now] for first, last in summary["gaps"] or ())
    if summary["top"] is not None:
        mark.mark = int(summary["top"])
    mark.holes = kept
    return rows, int(summary["n"]) >= limit


def save(session: Session, mark: Mark) -> None:
    """Keep the mark (in the transaction that counted up to it)."""
    session.execute(
        update(ReportMark)
        .where(ReportMark.name == NAME)
        .values(mark=mark.mark, holes=json.dumps(mark.holes))
    )


def _kinds(types: Collection[str]) -> str:
    return ", ".join(f"'{kind}'" for kind in sorted(types))  # the code's own event types


# A window's rows, once per day and distinct set of facts, in the order of their first id:
# what a count keeps of them (an enrollment's first of each figure, the first event of its
# first day), read at a fraction of the rows when the same event repeats (opens, clicks).
_FACTS = (
    "type, step, reason, actor, enrollment_id, sequence_id, about, sender, variant, outcome, kind"
)
_GROUPED = "SELECT {first}day, {facts} FROM ({rows}) AS found GROUP BY day, {facts}"
_WHERE_COUNTED = " AND type IN ({kinds}) AND enrollment_id IS NOT NULL AND sequence_id IS NOT NULL"
# The ids past the mark (as many as the window takes), their top, their count and the gaps
# between them, then the rows to count: one summary row (in the first column) and the rows
# (in the others), of one snapshot.
_PG_WINDOW = (
    "WITH seen AS MATERIALIZED ("
    " SELECT id FROM events WHERE id > %(mark)s ORDER BY id LIMIT %(limit)s"
    "), span AS (SELECT max(id) AS top, count(*) AS n FROM seen"
    "), gaps AS ("
    " SELECT coalesce(jsonb_agg(jsonb_build_array(prev + 1, id - 1) ORDER BY id), '[]') AS gaps"
    " FROM (SELECT id, lag(id, 1, %(mark)s) OVER (ORDER BY id) AS prev FROM seen) AS g"
    " WHERE id > prev + 1"
    ") SELECT jsonb_build_object('top', span.top, 'n', span.n, 'gaps', gaps.gaps),"
    " 0::bigint, NULL::date, NULL, NULL, NULL, NULL, NULL::bigint, NULL::bigint, NULL::jsonb,"
    " NULL, NULL, NULL, NULL FROM span, gaps"
    " UNION ALL SELECT NULL, grouped.* FROM ("
    + _GROUPED.format(
        first="min(id), ",
        facts=_FACTS,
        rows=(
            "SELECT id, CAST(time AT TIME ZONE 'UTC' AS date) AS day, type, step, reason, actor,"
            " enrollment_id, sequence_id, data->'enrollment_id' AS about,"
            " data->>'sender' AS sender, data->>'variant' AS variant,"
            " data->>'outcome' AS outcome, data->>'kind' AS kind FROM events"
            " WHERE (id > %(mark)s AND id <= (SELECT top FROM span){holes})" + _WHERE_COUNTED
        ),
    )
    + ") AS grouped ORDER BY 2"
)
_PG_SNAPSHOT = (
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text,"
    " pg_snapshot_xmax(pg_current_snapshot())::text"
)
# SQLite stores times as UTC text, whose first ten characters are the day.
_SQLITE_ROWS = (
    _GROUPED.format(
        first="",
        facts=_FACTS,
        rows=(
            "SELECT id, substr(time, 1, 10) AS day, type, step, reason, actor, enrollment_id,"
            " sequence_id, json_extract(data, '$.enrollment_id') AS about,"
            " json_extract(data, '$.sender') AS sender, json_extract(data, '$.variant') AS variant,"
            " json_extract(data, '$.outcome') AS outcome, json_extract(data, '$.kind') AS kind"
            " FROM events WHERE id > :mark AND id <= :top" + _WHERE_COUNTED
        ),
    )
    + " ORDER BY min(id)"
)
