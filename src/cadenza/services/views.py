"""Bulk loading of what the machine reads: contacts as views, definitions by version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition
from cadenza.core.events import EventRecord
from cadenza.store.models import Contact, ContactTag, Event, SequenceVersion, User

CHUNK = 900  # below SQLite's bound-parameter limit

_CONTACT_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.phone,
    Contact.timezone,
    Contact.company,
    Contact.lead_source,
    Contact.disposition,
    Contact.fields,
    Contact.dnc,
    Contact.sms_opted_out,
    Contact.email_unsubscribed,
    Contact.email_bounced,
    User.email.label("owner"),
)


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_VIEW_FIELDS = tuple(c.key for c in _CONTACT_COLUMNS)


def load_views(*, session: Session, contact_ids: Iterable[int]) -> dict[int, ContactView]:
    """Contacts by id as the machine sees them, tags included, in two queries per chunk."""
    views: dict[int, ContactView] = {}
    connection = session.connection()  # Core rows: this runs for every claimed batch
    for batch in chunks(sorted(set(contact_ids))):
        tags: dict[int, list[str]] = defaultdict(list)
        for contact_id, tag in connection.execute(
            select(ContactTag.contact_id, ContactTag.tag).where(ContactTag.contact_id.in_(batch))
        ):
            tags[contact_id].append(tag)
        query = (
            select(*_CONTACT_COLUMNS)
            .outerjoin(User, User.id == Contact.owner_id)
            .where(Contact.id.in_(batch))
        )
        for row in connection.execute(query):
            data: dict[str, Any] = dict(zip(_VIEW_FIELDS, row, strict=True))
            data["first_name"] = data["first_name"] or ""
            data["last_name"] = data["last_name"] or ""
            data["fields"] = data["fields"] or {}
            data["tags"] = sorted(tags[row[0]]) if row[0] in tags else []
            views[row[0]] = ContactView.model_construct(**data)
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


# Versions never change, so a parsed definition is kept for the life of the process. The key
# names the database too: two databases may both have a version 1.
_by_version: dict[tuple[str, int], Definition] = {}


def definition_for(*, session: Session, version_id: int) -> Definition:
    """A version's definition, parsed once per process."""
    key = (str(session.get_bind().engine.url), version_id)
    found = _by_version.get(key)
    if found is None:
        row = session.execute(
            select(SequenceVersion.definition).where(SequenceVersion.id == version_id)
        ).scalar_one()
        found = Definition.model_validate(row)
        if len(_by_version) > 4096:
            _by_version.clear()
        _by_version[key] = found
    return found
