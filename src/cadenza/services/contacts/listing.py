"""Contacts as listings page through them: in id order, by tag or a search.

Read through SQLAlchemy Core (`store.columns`), not the ORM: `cadenza contacts list` then
starts without loading the ORM and the models, and the API's session runs the same
statements. `rows` turns contacts, Core rows or model objects alike, into listing rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select

from cadenza.services import paging
from cadenza.store.columns import contact_tags, contacts, users

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from cadenza.services.contacts.records import ContactRow

ORDER = paging.Order((contacts.c.id,), (int,))
SEARCHED = (
    contacts.c.first_name,
    contacts.c.last_name,
    contacts.c.email,
    contacts.c.phone,
    contacts.c.company,
)


def page_contacts(
    *,
    session: Session | Connection,
    tag: str | None = None,
    search: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    offset: int = 0,
    count: bool = True,
) -> paging.Page[ContactRow]:
    """A page of contacts in id order (after `offset` more), the next cursor, and the true
    total unless searching."""
    query = select(contacts)
    if tag is not None:
        tagged = select(contact_tags.c.contact_id).where(contact_tags.c.tag == tag)
        query = query.where(contacts.c.id.in_(tagged))
    if search:
        query = query.where(matching(search, sqlite=paging.dialect_name(session) == "sqlite"))
    # A text search reads every contact: counting would read them all a second time.
    page = paging.fetch(
        session, query, ORDER, limit=limit, cursor=cursor, count=count and not search, offset=offset
    )
    return paging.Page(rows(session, page.rows), page.next, page.total)


def matching(search: str, *, sqlite: bool = False) -> ColumnElement[bool]:
    """Contacts with `search` in a name, the email, the phone or the company (any case)."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
    if sqlite:  # SQLite's LIKE ignores ASCII case already: no lower() of every cell
        return or_(*(column.like(pattern, escape="\\") for column in SEARCHED))
    return or_(*(column.ilike(pattern, escape="\\") for column in SEARCHED))


def rows(session: Session | Connection, found: Sequence[Any]) -> list[ContactRow]:
    """Listing rows of contacts: Core rows of `store.columns.contacts` or `models.Contact`s."""
    ids = [contact.id for contact in found]
    owner_ids = {contact.owner_id for contact in found if contact.owner_id is not None}
    query_owners = select(users.c.id, users.c.email).where(users.c.id.in_(owner_ids))
    owners: dict[int, str] = {row[0]: row[1] for row in session.execute(query_owners)}
    tags: dict[int, list[str]] = defaultdict(list)
    query = select(contact_tags.c.contact_id, contact_tags.c.tag)
    query = query.where(contact_tags.c.contact_id.in_(ids)).order_by(contact_tags.c.tag)
    for contact_id, tag in session.execute(query):
        tags[contact_id].append(tag)
    return [
        {
            "id": c.id,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "email": c.email,
            "phone": c.phone,
            "timezone": c.timezone,
            "company": c.company,
            "owner": owners.get(c.owner_id) if c.owner_id else None,
            "lead_source": c.lead_source,
            "disposition": c.disposition,
            "tags": tags[c.id],
            "fields": dict(c.fields or {}),
            "dnc": c.dnc,
            "sms_opted_out": c.sms_opted_out,
            "email_unsubscribed": c.email_unsubscribed,
            "email_bounced": c.email_bounced,
            "external_id": c.external_id,
            "last_contacted_at": _iso(c.last_contacted_at),
            "last_contacted_mode": c.last_contacted_mode or "not_contacted",
            "last_activity_type": c.last_activity_type,
            "last_activity_at": _iso(c.last_activity_at),
        }
        for c in found
    ]


def _iso(time: datetime | None) -> str | None:
    return time.isoformat() if time is not None else None
