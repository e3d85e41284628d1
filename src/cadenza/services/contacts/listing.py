"""Contacts as listings page through them: in id order, by tag or a search."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from cadenza.services import paging
from cadenza.services.contacts.records import ContactRow
from cadenza.services.contacts.records import _rows as rows_of
from cadenza.store.models import Contact, ContactTag

ORDER = paging.Order((Contact.id,), (int,))
SEARCHED = (Contact.first_name, Contact.last_name, Contact.email, Contact.phone, Contact.company)


def page_contacts(
    *,
    session: Session,
    tag: str | None = None,
    search: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    offset: int = 0,
    count: bool = True,
) -> paging.Page[ContactRow]:
    """A page of contacts in id order (after `offset` more), the next cursor, and the true
    total unless searching."""
    query = select(Contact)
    if tag is not None:
        query = query.where(
            Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag == tag))
        )
    if search:
        query = query.where(matching(search, sqlite=session.get_bind().dialect.name == "sqlite"))
    # A text search reads every contact: counting would read them all a second time.
    page = paging.fetch(
        session, query, ORDER, limit=limit, cursor=cursor, count=count and not search, offset=offset
    )
    return paging.Page(rows_of(session, [row[0] for row in page.rows]), page.next, page.total)


def matching(search: str, *, sqlite: bool = False) -> ColumnElement[bool]:
    """Contacts with `search` in a name, the email, the phone or the company (any case)."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
    if sqlite:  # SQLite's LIKE ignores ASCII case already: no lower() of every cell
        return or_(*(column.like(pattern, escape="\\") for column in SEARCHED))
    return or_(*(column.ilike(pattern, escape="\\") for column in SEARCHED))
