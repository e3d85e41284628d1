"""The history report: events searched by contact, type and timeframe, counted in full, paged
newest first by a cursor, and exported.

The page reads the newest events through `ix_events_time` (or `ix_events_type_time`, or the
contact's index when a search names few contacts) and stops at the page size; the count is
one COUNT over the same conditions. A cursor is the last row's (time, id): a page costs the
same at the millionth event as at the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from cadenza.core.zones import zone
from cadenza.errors import ValidationFailed
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.store.models import Contact, Event, Sequence

PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "this_month": "This month",
    "last_month": "Last month",
    "all_time": "All time",
    "custom": "Custom range",
}
SEARCH_LIMIT = 200
NAMED_LIMIT = 1000  # contacts a search names, looked up one by one; more: in one query


@dataclass(frozen=True)
class HistoryQuery:
    """What the report shows: a search (a name, an email, a phone), types, a time range."""

    search: str | None = None
    types: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    sequence: str | None = None
    contact_id: int | None = None


@dataclass(frozen=True)
class ReportRow:
    id: int
    time: datetime
    type: str
    sequence: str | None
    contact_id: int | None
    contact: str | None
    enrollment_id: int | None
    step: str | None
    actor: str
    reason: str | None
    data: dict[str, Any]


def timeframe(
    preset: str, now: datetime, zone_name: str, start: str = "", end: str = ""
) -> tuple[datetime | None, datetime | None]:
    """A preset's [start, end) in the person's zone, as UTC instants (None: unbounded).

    `custom` takes two dates (either may be empty); the end date is included."""
    if preset not in PRESETS:
        raise ValidationFailed(f"timeframe {preset!r} is not one of {', '.join(PRESETS)}")
    here = zone(zone_name)
    today = now.astimezone(here).date()

    def at(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=here)

    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    ranges: dict[str, tuple[date | None, date | None]] = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "last_7_days": (today - timedelta(days=6), today + timedelta(days=1)),
        "last_30_days": (today - timedelta(days=29), today + timedelta(days=1)),
        "this_month": (first, today + timedelta(days=1)),
        "last_month": (previous, first),
        "all_time": (None, None),
    }
    if preset == "custom":
        low, high = _day(start, "from"), _day(end, "to")
        if low and high and high < low:
            raise ValidationFailed("the range ends before it starts")
        ranges["custom"] = (low, high + timedelta(days=1) if high else None)
    low_day, high_day = ranges[preset]
    return (at(low_day) if low_day else None, at(high_day) if high_day else None)


def _day(text: str, what: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{what} {text!r} is not a date like 2026-03-01") from None


def contact_matches(text: str) -> ColumnElement[bool]:
    """Contacts a search names: an email (whole, or its start), a phone's digits, or every
    word of a name at the start of the first or last name."""
    text = text.strip()
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return Contact.email == text.lower()  # the unique index: one look-up
    if "@" in text:
        return Contact.email.ilike(_escaped(text.lower()) + "%", escape="\\")
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4 and not re.search(r"[A-Za-z]", text):
        return Contact.phone.like("%" + digits + "%")
    words = [w.lower() for w in text.split() if w][:4]
    return and_(
        *(or_(_starts(Contact.first_name, w), _starts(Contact.last_name, w)) for w in words)
    )


def _starts(column: Any, word: str) -> ColumnElement[bool]:
    """`column` starts with `word` in any case: a range of its lower-case index, checked."""
    lowered = func.lower(column)
    after = word[:-1] + chr(ord(word[-1]) + 1)
    return and_(
        lowered >= word,
        lowered < after,
        lowered.like(_escaped(word) + "%", escape="\\"),
    )


def _escaped(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def _conditions(session: Session, query: HistoryQuery, viewer: Viewer) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.search and query.search.strip():
        found.append(_named(session, query.search))
    if query.contact_id is not None:
        found.append(Event.contact_id == query.contact_id)
    if query.types:
        found.append(Event.type.in_(query.types))
    if query.start is not None:
        found.append(Event.time >= query.start)
    if query.end is not None:
        found.append(Event.time < query.end)
    if query.sequence:
        found.append(
            Event.sequence_id.in_(select(Sequence.id).where(Sequence.name == query.sequence))
        )
    if not viewer.sees_everything:
        # The ids themselves (a team has few sequences): checked in the index, row by row.
        ids = list(session.scalars(select(Sequence.id).where(access.visible_sequences(viewer))))
        found.append(or_(Event.sequence_id.is_(None), Event.sequence_id.in_(ids)))
    return found


def _named(session: Session, search: str) -> ColumnElement[bool]:
    """Events of the contacts a search names: by their ids when they are few (each one's
    events are then read from its index), else by the search itself."""
    if len(search) > SEARCH_LIMIT:
        raise ValidationFailed(f"a search is at most {SEARCH_LIMIT} characters")
    named = select(Contact.id).where(contact_matches(search))
    ids = list(session.scalars(named.limit(NAMED_LIMIT + 1)))
    if len(ids) > NAMED_LIMIT:
        return Event.contact_id.in_(named)
    return Event.contact_id.in_(ids)


def count(*, session: Session, query: HistoryQuery, viewer: Viewer, cap: int | None = None) -> int:
    """How many events the query matches: all of them, or up to `cap` + 1 (more than `cap`
    is then all a page knows: counting a million events costs more than the page)."""
    conditions = _conditions(session, query, viewer)
    if cap is None:
        statement = select(func.count()).select_from(Event).where(*conditions)
        return int(session.scalar(statement) or 0)
    first = select(Event.id).where(*conditions).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(first)) or 0)


def _rows(conditions: list[ColumnElement[bool]]) -> Select[Any]:
    columns: list[Any] = [
        Event,
        Sequence.name,
        Contact.first_name,
        Contact.last_name,
        Contact.email,
        Contact.phone,
    ]
    return (
        select(*columns)
        .outerjoin(Sequence, Sequence.id == Event.sequence_id)
        .outerjoin(Contact, Contact.id == Event.contact_id)
        .where(*conditions)
        .order_by(Event.time.desc(), Event.id.desc())
    )


def page(
    *,
    session: Session,
    query: HistoryQuery,
    viewer: Viewer,
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[ReportRow]:
    """Up to `limit` events, newest first, older than the cursor `before` (time, id)."""
    conditions = _conditions(session, query, viewer)
    if before is not None:
        moment, key = before
        conditions.append(tuple_(Event.time, Event.id) < tuple_(moment, key))
    return [_row(r) for r in session.execute(_rows(conditions).limit(limit))]


def export(
    *, session: Session, query: HistoryQuery, viewer: Viewer, batch: int = 1000
) -> Iterator[ReportRow]:
    """Every event the query matches, newest first, read a batch at a time."""
    cursor: tuple[datetime, int] | None = None
    while True:
        rows = page(session=session, query=query, viewer=viewer, before=cursor, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        cursor = (rows[-1].time, rows[-1].id)


def _row(r: Any) -> ReportRow:
    event: Event = r[0]
    name = f"{r.first_name or ''} {r.last_name or ''}".strip() or r.email or r.phone
    return ReportRow(
        id=event.id,
        time=event.time,
        type=event.type,
        sequence=r.name,
        contact_id=event.contact_id,
        contact=name if event.contact_id is not None else None,
        enrollment_id=event.enrollment_id,
        step=event.step,
        actor=event.actor,
        reason=event.reason,
        data=dict(event.data or {}),
    )


def cursor_text(row: ReportRow) -> str:
    """A cursor for the page after this row."""
    return f"{row.time.isoformat()}|{row.id}"


def parse_cursor(text: str) -> tuple[datetime, int] | None:
    """The (time, id) of a cursor; ValidationFailed for one this report never made."""
    if not text:
        return None
    moment, _, key = text.partition("|")
    try:
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not key.isdigit():
            raise ValueError(text)
        return parsed, int(key)
    except ValueError:
        raise ValidationFailed(f"cursor {text!r} is not a cursor of this report") from None
