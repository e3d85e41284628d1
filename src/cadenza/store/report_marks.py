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
adds nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Text, func, select, text, update
from sqlalchemy.orm import Session

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
) -> tuple[list[Row[Any]], bool]:
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
    rows = _rows(session, types, "id > :mark AND id <= :top", mark=mark.mark, top=top)
    mark.mark = top
    return rows, top < newest


def _window_pg(
    session: Session, mark: Mark, types: Collection[str], limit: int
) -> tuple[list[Row[Any]], bool]:
    seen = list(
        session.scalars(
            select(Event.id).where(Event.id > mark.mark).order_by(Event.id).limit(limit)
        )
    )
    top = seen[-1] if seen else mark.mark
    found: list[Row[Any]] = []
    if seen or mark.holes:
        ranges = "".join(
            f" OR id BETWEEN {int(h[0])} AND {int(h[1])}" for h in mark.holes
        )  # integers this module wrote
        found = _rows(session, types, f"(id > :mark AND id <= :top{ranges})", mark=mark.mark,
            top=top)  # fmt: skip
    # A snapshot taken after the reads: its xmax is at least theirs.
    xmin, xmax = session.execute(
        select(
            func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text()),
            func.pg_snapshot_xmax(func.pg_current_snapshot()).cast(Text()),
        )
    ).one()
    now = time.time()
    kept = [h for h in mark.holes if not (int(xmin) >= int(h[2]) and now - h[3] >= HOLE_GRACE)]
    previous = mark.mark
    for id_ in seen:
        if id_ > previous + 1:
            kept.append([previous + 1, id_ - 1, int(xmax), now])
        previous = id_
    mark.mark, mark.holes = top, kept
    return found, len(seen) >= limit


def save(session: Session, mark: Mark) -> None:
    """Keep the mark (in the transaction that counted up to it)."""
    session.execute(
        update(ReportMark)
        .where(ReportMark.name == NAME)
        .values(mark=mark.mark, holes=json.dumps(mark.holes))
    )


# The columns a count reads, with the data's few keys read by the database (no JSON is
# decoded here): SQLite stores times as UTC text, whose first ten characters are the day.
_SQLITE_COLUMNS = (
    "substr(time, 1, 10), type, step, reason, actor, enrollment_id, sequence_id,"
    " json_extract(data, '$.enrollment_id'), json_extract(data, '$.sender'),"
    " json_extract(data, '$.variant'), json_extract(data, '$.outcome'),"
    " json_extract(data, '$.kind')"
)
_PG_COLUMNS = (
    "CAST(time AT TIME ZONE 'UTC' AS date), type, step, reason, actor, enrollment_id,"
    " sequence_id, data->'enrollment_id', data->>'sender', data->>'variant',"
    " data->>'outcome', data->>'kind'"
)


def _rows(session: Session, types: Collection[str], where: str, **params: Any) -> list[Row[Any]]:
    pg = session.get_bind().dialect.name == "postgresql"
    kinds = ", ".join(f"'{kind}'" for kind in sorted(types))  # the code's own event types
    query = (
        f"SELECT {_PG_COLUMNS if pg else _SQLITE_COLUMNS} FROM events WHERE {where}"
        f" AND type IN ({kinds}) AND enrollment_id IS NOT NULL AND sequence_id IS NOT NULL"
        " ORDER BY id"
    )
    return list(session.execute(text(query), params))
