"""History: every transition, change and message as an event row; the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.decisions import HistoryEntry
from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.services import paging
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store import bulk
from cadenza.store.models import Event, Sequence

# The events a mailbox's health counts (services.senders.health.COUNTED).
COUNTED = frozenset({"bounced", "complained", "complaint", "spam_complaint", "unsubscribed"})


@dataclass(slots=True)  # made for every step the worker runs: no frozen-init overhead
class Subject:
    """Whom an event concerns: a contact, and maybe one of its enrollments."""

    contact_id: int | None
    sequence_id: int | None = None
    enrollment_id: int | None = None


def row(subject: Subject, entry: HistoryEntry, actor: str = "system") -> dict[str, Any]:
    """An events-table row for a history entry."""
    return {
        "time": entry.time,
        "type": entry.type,
        "contact_id": subject.contact_id,
        "sequence_id": subject.sequence_id,
        "enrollment_id": subject.enrollment_id,
        "step": entry.step,
        "actor": actor,
        "reason": entry.reason,
        "data": entry.data,
    }


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append rows in one statement (the reports count them later: services/reports/counting)."""
    bulk.insert_rows(session, Event.__table__, rows)  # type: ignore[arg-type]
    # Every bounce, complaint and unsubscribe passes here, whoever records it: the one
    # place to count them against their mailbox (a set look-up a row for the others).
    if any(row["type"] in COUNTED for row in rows):
        from cadenza.services.senders import health

        health.note_history(session, rows)
    from cadenza.services.contacts import computed  # here: the package imports history

    computed.apply(session, rows)


def record(
    session: Session,
    subject: Subject,
    type_: str,
    time: datetime,
    *,
    step: str | None = None,
    reason: str | None = None,
    actor: str = "system",
    **data: Any,
) -> None:
    """Append one event."""
    write(session, [row(subject, HistoryEntry(type_, time, step, reason, data), actor)])


class HistoryRow(TypedDict):
    """An event in a listing (its time as ISO 8601 with offset)."""

    time: IsoTime
    type: str
    sequence: str | None
    contact_id: int | None
    enrollment_id: int | None
    step: str | None
    actor: str
    reason: str | None
    data: dict[str, Any]


ORDER = paging.Order((Event.time, Event.id), (datetime, int))
NEWEST_FIRST = paging.Order((Event.time, Event.id), (datetime, int), descending=True)
# The types written outside the engine's and the channels' own lists.
SEQUENCE_VERBS = ("created", "updated", "deleted", "shared", "cloned", "activated", "paused")
OTHER_TYPES = frozenset(
    {f"sequence_{verb}" for verb in (*SEQUENCE_VERBS, "resumed", "ended", "archived")}
    | {"inbound_unmatched", "trigger_skipped"}
    # written by the services beside the engine: the workspace, senders, voice, reports
    | {"sequence_created", "sequence_updated", "sequence_cloned", "sequence_deleted"}
    | {"sequence_shared", "contact_deleted", "note_added", "task_rescheduled"}
    | {"test_email_queued", "sender_paused", "sender_resumed", "soft_bounce"}
    | {"message_delivered", "call_answered", "call_retry", "line_assigned", "dialer_added"}
    | {"dialer_removed", "variant_won"}
    | {"domain_blocked", "domain_unblocked"}
    | {"merged", "note_deleted", "field_defined", "field_deleted"}
)


@dataclass(frozen=True)
class HistoryFilter:
    """What a history listing narrows to (None: any)."""

    sequence: str | None = None
    contact_id: int | None = None
    types: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_history(
    *,
    session: Session,
    sequence: str | None = None,
    contact_id: int | None = None,
    types: list[str] | None = None,
    since: datetime | None = None,
    limit: int = 1000,
    viewer: Viewer = OPERATOR,
) -> list[HistoryRow]:
    """History rows, newest last: the latest `limit` events matching the filters."""
    wanted = HistoryFilter(sequence, contact_id, types, since)
    page = page_history(
        session=session, where=wanted, limit=limit, newest_first=True, count=False, viewer=viewer
    )
    return page.rows[::-1]


def page_history(
    *,
    session: Session,
    where: HistoryFilter = HistoryFilter(),
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    newest_first: bool = False,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[HistoryRow]:
    """A page of history in time order (oldest first unless asked), the next cursor, and the
    total when the events of one contact or one sequence are asked for."""
    conditions = _conditions(session, where, viewer)
    seen = access.row_visible(Event.sequence_id, viewer)
    if seen is not None:
        conditions.append(seen)
    query = (
        select(Event, Sequence.name)
        .outerjoin(Sequence, Sequence.id == Event.sequence_id)
        .where(*conditions)
    )
    counted = select(Event.id).where(*conditions)
    order = NEWEST_FIRST if newest_first else ORDER
    # Counting a million events costs ten times the page: only what an index narrows.
    cheap = where.contact_id is not None or where.sequence is not None
    page = paging.fetch(
        session, query, order, limit=limit, cursor=cursor, count=count and cheap, counted=counted
    )
    return paging.mapped(page, _row)


def _conditions(
    session: Session, where: HistoryFilter, viewer: Viewer
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.sequence is not None:
        conditions.append(Event.sequence_id == paging.sequence_id(session, where.sequence, viewer))
    if where.contact_id is not None:
        conditions.append(Event.contact_id == where.contact_id)
    if where.types:
        conditions.append(Event.type.in_([_known_type(session, t) for t in where.types]))
    if where.since is not None:
        conditions.append(Event.time >= where.since)
    if where.until is not None:
        conditions.append(Event.time < where.until)
    return conditions


def _known_type(session: Session, name: str) -> str:
    """`name` when it is an event type (listed, or found in history); else InvalidParameter."""
    if name in CONTACT_EVENTS or name in ENROLLMENT_EVENTS or name in OTHER_TYPES:
        return name
    if session.scalar(select(Event.id).where(Event.type == name).limit(1)) is not None:
        return name
    raise paging.InvalidParameter("type", f"{name!r} is not an event type history holds")


def _row(found: Row[*tuple[Any, ...]]) -> HistoryRow:
    event, name = found[0], found[1]
    return {
        "time": event.time.isoformat(),
        "type": event.type,
        "sequence": name,
        "contact_id": event.contact_id,
        "enrollment_id": event.enrollment_id,
        "step": event.step,
        "actor": event.actor,
        "reason": event.reason,
        "data": event.data,
    }
