"""History: every transition, change and message as an event row; the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.decisions import HistoryEntry
from cadenza.services.reports import counting
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
    """Append rows in one statement, and count them in the reports (the same transaction)."""
    bulk.insert_rows(session, Event.__table__, rows)  # type: ignore[arg-type]
    # Every bounce, complaint and unsubscribe passes here, whoever records it: the one
    # place to count them against their mailbox (a set look-up a row for the others).
    if any(row["type"] in COUNTED for row in rows):
        from cadenza.services.senders import health

        health.note_history(session, rows)
    counting.count(session, rows)


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
    """History rows, newest last, filtered as asked."""
    query = select(Event, Sequence.name).outerjoin(Sequence, Sequence.id == Event.sequence_id)
    if sequence is not None:
        query = query.where(Sequence.name == sequence)
    if contact_id is not None:
        query = query.where(Event.contact_id == contact_id)
    seen = access.row_visible(Event.sequence_id, viewer)
    if seen is not None:
        query = query.where(seen)
    if types:
        query = query.where(Event.type.in_(types))
    if since is not None:
        query = query.where(Event.time >= since)
    query = query.order_by(Event.time.desc(), Event.id.desc()).limit(limit)
    rows: list[HistoryRow] = [
        {
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
        for event, name in session.execute(query)
    ]
    rows.reverse()
    return rows
