"""Retention: history and message bodies older than a date, exported first, then removed.

Every deletion of history goes through `prune`, so that whatever keeps totals from history
(reports) can register a roll-up in ROLLUPS: each is called inside the pruning transaction,
before anything is removed, with the cut-off, and may fold the rows about to go into its own
counters. History that a running enrollment's conditions may still read (its contact's
events since it was enrolled) is never removed: the cut-off is moved back to the earliest
`enrolled_at` of the enrollments still running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    column,
    delete,
    func,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session

from cadenza.services.reports import counting
from cadenza.store import partitions
from cadenza.store.models import Enrollment, Event, Message

# Statuses of enrollments whose conditions may still read their contact's history.
RUNNING = ("active", "waiting", "paused")
# Messages whose body nobody reads again (a message still to be sent or resent keeps it).
SETTLED = ("sent", "failed", "suppressed")
CHUNK = 5000  # rows per statement: short locks, bounded memory
# PostgreSQL's partition for history no month holds (`cadenza.store.partitions`).
STRAYS = table(partitions.DEFAULT, column("id"), column("time"))

Rollup = Callable[[Session, datetime], None]
ROLLUPS: list[Rollup] = []


@dataclass(frozen=True)
class PruneReport:
    """What `prune` removed, and the cut-off it used (earlier than asked when it had to be)."""

    cutoff: datetime
    asked: datetime
    events: int
    bodies: int


def effective_cutoff(*, session: Session, before: datetime) -> datetime:
    """`before`, or the earliest enrollment of a running enrollment if that is earlier."""
    earliest = session.execute(
        select(func.min(Enrollment.enrolled_at)).where(Enrollment.status.in_(RUNNING))
    ).scalar_one_or_none()
    return min(before, earliest) if earliest is not None else before


def prune(*, session: Session, before: datetime, export: IO[bytes] | None = None) -> PruneReport:
    """Remove history before the cut-off and blank settled messages' bodies (export first)."""
    cutoff = effective_cutoff(session=session, before=before)
    # The reports count history after it is written: whatever they have not counted yet is
    # counted now, before it goes (their counters outlive the history).
    counting.catch_up(session)
    for rollup in ROLLUPS:
        rollup(session, cutoff)
    if export is not None:
        for line in _export_lines(session, cutoff):
            export.write(orjson.dumps(line, default=str) + b"\n")
        export.flush()
    connection = session.connection()
    # PostgreSQL: the months wholly before the cut-off go as whole partitions, last (dropping
    # one locks history until the commit); the rest (the month the cut-off falls in, and rows
    # no month held) row by row first, as on SQLite.
    whole = [m for m in partitions.months(connection) if m.end <= cutoff]
    if not whole:
        events = _delete(session, select(Event.id).where(Event.time < cutoff))
    else:
        until = whole[-1].end
        rest = select(Event.id).where(Event.time >= until, Event.time < cutoff)
        events = _delete(session, rest, Event.time >= until)
        strays = select(STRAYS.c.id).where(STRAYS.c.time < until)
        events += _delete(session, strays, Event.time < until)
    blanked = session.execute(
        update(Message)
        .where(Message.created_at < cutoff, Message.status.in_(SETTLED), Message.body != "")
        .values(body="")
    )
    bodies = cast("CursorResult[Any]", blanked).rowcount
    events += partitions.drop(connection, whole)
    return PruneReport(cutoff=cutoff, asked=before, events=events, bodies=bodies)


def _delete(session: Session, ids: Select[Any], *where: ColumnElement[bool]) -> int:
    """Delete the rows `ids` finds, a chunk a statement; `where` (on the time) lets
    PostgreSQL look for them in the partitions that may hold them only."""
    deleted = 0
    while True:
        batch = list(session.scalars(ids.limit(CHUNK)))
        if not batch:
            return deleted
        session.execute(delete(Event).where(Event.id.in_(batch), *where))
        deleted += len(batch)


def _export_lines(session: Session, cutoff: datetime) -> Iterator[dict[str, Any]]:
    events = select(Event).where(Event.time < cutoff).order_by(Event.id)
    for event in session.scalars(events.execution_options(yield_per=CHUNK)):
        yield {
            "kind": "event",
            "id": event.id,
            "time": event.time.isoformat(),
            "type": event.type,
            "contact_id": event.contact_id,
            "sequence_id": event.sequence_id,
            "enrollment_id": event.enrollment_id,
            "step": event.step,
            "actor": event.actor,
            "reason": event.reason,
            "data": event.data,
        }
    messages = (
        select(Message.id, Message.key, Message.channel, Message.recipient, Message.subject)
        .add_columns(Message.body, Message.created_at)
        .where(Message.created_at < cutoff, Message.status.in_(SETTLED), Message.body != "")
        .order_by(Message.id)
    )
    for row in session.execute(messages.execution_options(yield_per=CHUNK)):
        yield {"kind": "message_body", **row._asdict(), "created_at": row.created_at.isoformat()}
