"""Listing what a view shows: contacts a page at a time in id order, or its accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.services import paging
from cadenza.services.accounts.managing import AccountRow
from cadenza.services.accounts.managing import _rows as account_rows
from cadenza.services.audiences.matching import iter_matching, matching_accounts
from cadenza.services.audiences.views import condition_of, view_for
from cadenza.services.contacts.listing import rows as contact_rows
from cadenza.services.contacts.records import ContactRow
from cadenza.services.users.access import Viewer
from cadenza.store.models import Account, Contact

ORDER = paging.Order((Contact.id,), (int,))


def page_view_contacts(
    *,
    session: Session,
    viewer: Viewer,
    view: str,
    now: datetime,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> paging.Page[ContactRow]:
    """A page of the contacts a view of contacts shows (no total: it would read them all)."""
    paging.check_limit(limit)
    found = view_for(session=session, viewer=viewer, name=view, kind="contacts")
    after = int(paging.decode(cursor, ORDER)[0]) if cursor else 0
    ids: list[int] = []
    for contact_id in iter_matching(
        session=session, condition=condition_of(found), now=now, after=after
    ):
        ids.append(contact_id)
        if len(ids) > limit:
            break
    more = len(ids) > limit
    ids = ids[:limit]
    query = select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)
    contacts = list(session.scalars(query))
    next_cursor = paging.encode((ids[-1],)) if more and ids else None
    return paging.Page(contact_rows(session, contacts), next_cursor, None)


def view_accounts(
    *, session: Session, viewer: Viewer, view: str, now: datetime
) -> list[AccountRow]:
    """Every account a view of accounts shows, by name."""
    found = view_for(session=session, viewer=viewer, name=view, kind="accounts")
    ids = matching_accounts(session=session, condition=condition_of(found), now=now)
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))}
    return account_rows(session, [accounts[i] for i in ids])
