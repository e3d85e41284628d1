"""Bulk loading of what the machine reads: contacts as views, and their recent events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cadenza.core import reach
from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.store.bulk import chunks
from cadenza.store.claims import CONTACT_VIEW_COLUMNS, VIEW_FIELDS, Claimed
from cadenza.store.models import BlockedDomain, Contact, ContactTag, Event, User


def among(column: Any, ids: list[int], dialect: str) -> ColumnElement[bool]:
    """`column IN ids`: on PostgreSQL one array parameter, not thousands of parameters (the
    driver parses a statement's text for each of them, and caches no statement that long)."""
    if dialect == "postgresql":
        found: ColumnElement[bool] = column == any_(
            bindparam("ids", value=ids, type_=ARRAY(BigInteger))
        )
        return found
    listed: ColumnElement[bool] = column.in_(ids)
    return listed


def view_of(values: dict[str, Any], tags: list[str], blocked: Collection[str] = ()) -> ContactView:
    """A ContactView made of `values`, a contact's columns (no validation: our own rows);
    `blocked`: the do-not-contact domains."""
    values["domain_dnc"] = reach.domain_blocked(values.get("email"), blocked)
    values["first_name"] = values["first_name"] or ""
    values["last_name"] = values["last_name"] or ""
    values["fields"] = values["fields"] or {}
    values["tags"] = sorted(tags)
    return ContactView.trusted(values)


def load_tags(session: Session, contact_ids: Iterable[int]) -> dict[int, list[str]]:
    """Tags per contact, for contacts that have any."""
    tags: dict[int, list[str]] = defaultdict(list)
    connection = session.connection()
    for batch in chunks(sorted(set(contact_ids))):
        query = select(ContactTag.contact_id, ContactTag.tag).where(
            among(ContactTag.contact_id, batch, connection.dialect.name)
        )
        for contact_id, tag in connection.execute(query):
            tags[contact_id].append(tag)
    return tags


def views_of_claimed(
    rows: Sequence[Claimed], blocked: Collection[str] = ()
) -> dict[int, ContactView]:
    """The contacts of claimed enrollments, whose columns and tags came with the claim."""
    views: dict[int, ContactView] = {}
    for row in rows:
        if row.contact_id not in views:
            views[row.contact_id] = view_of(row.contact, row.contact["tags"], blocked)
    return views


def blocked_domains(session: Session) -> frozenset[str]:
    """The do-not-contact domains (a short table: read whole, once per batch)."""
    return frozenset(session.scalars(select(BlockedDomain.domain)))


def load_views(*, session: Session, contact_ids: Iterable[int]) -> dict[int, ContactView]:
    """Contacts by id as the machine sees them, tags included, in two queries per chunk."""
    ids = sorted(set(contact_ids))
    tags = load_tags(session, ids)
    blocked = blocked_domains(session) if ids else frozenset()
    views: dict[int, ContactView] = {}
    connection = session.connection()  # Core rows: this runs for every claimed batch
    for batch in chunks(ids):
        query = (
            select(*CONTACT_VIEW_COLUMNS)
            .outerjoin(User, User.id == Contact.owner_id)
            .where(among(Contact.id, batch, connection.dialect.name))
        )
        for row in connection.execute(query):
            values = dict(zip(VIEW_FIELDS, row, strict=True))
            views[row[0]] = view_of(values, tags.get(row[0], []), blocked)
    return views


def load_events(
    *, session: Session, contact_ids: Iterable[int], since: datetime
) -> dict[int, list[EventRecord]]:
    """Contact events since a time, per contact, oldest first (for `event` conditions)."""
    found: dict[int, list[EventRecord]] = defaultdict(list)
    for batch in chunks(sorted(set(contact_ids))):
        query = (
            select(Event.contact_id, Event.type, Event.time, Event.step, Event.data)
            .where(Event.contact_id.in_(batch), Event.time >= since)
            .order_by(Event.time, Event.id)
        )
        for contact_id, type_, time, step, data in session.execute(query):
            found[contact_id].append(EventRecord(type_, time, step, data or {}))
    return found
