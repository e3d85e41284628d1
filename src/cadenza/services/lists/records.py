"""Lists as records: create, read, page and delete them, and page their members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import paging
from cadenza.services.lists.binding import bindings, bound_sequence, list_id
from cadenza.services.paging import Order, Page
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Contact, ContactList, ContactListMember

NAME_LIMIT = 200
_LISTS = Order((ContactList.name,), (str,))
_MEMBERS = Order((ContactListMember.contact_id,), (int,))


@dataclass(frozen=True)
class ListRow:
    """A list, how many contacts it holds and the active sequence it serves (if any)."""

    id: int
    name: str
    members: int
    sequence: str | None
    created_by: str
    created_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "members": self.members,
            "sequence": self.sequence,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class MemberRow:
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    added_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "contact_id": self.contact_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "added_at": self.added_at.isoformat(),
        }


def clean_name(name: str) -> str:
    """A list's name, trimmed; ValidationFailed when empty or too long."""
    text = name.strip()
    if not text:
        raise ValidationFailed("a list needs a name")
    if len(text) > NAME_LIMIT:
        raise ValidationFailed(f"a list's name has at most {NAME_LIMIT} characters")
    return text


def create_list(
    *, session: Session, name: str, now: datetime, viewer: Viewer = OPERATOR
) -> ListRow:
    """Make an empty list; Conflict when the name is taken."""
    access.require(viewer, "manage lists")
    text = clean_name(name)
    if session.scalar(select(ContactList.id).where(ContactList.name == text)) is not None:
        raise Conflict(f"a list named {text!r} exists already")
    row = ContactList(name=text, created_by=viewer.actor, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(f"a list named {text!r} exists already") from None
    return ListRow(row.id, row.name, 0, None, row.created_by, row.created_at)


def get_list(*, session: Session, name: str) -> ListRow:
    """One list by name, with its count and the sequence it serves; NotFound if none."""
    found = session.get(ContactList, list_id(session, name))
    assert found is not None
    count = session.scalar(
        select(func.count())
        .select_from(ContactListMember)
        .where(ContactListMember.list_id == found.id)
    )
    served = bound_sequence(session=session, list_name=found.name)
    return ListRow(
        found.id,
        found.name,
        int(count or 0),
        served.name if served else None,
        found.created_by,
        found.created_at,
    )


def list_lists(*, session: Session, limit: int, cursor: str | None = None) -> Page[ListRow]:
    """A page of lists by name."""
    counts = (
        select(ContactListMember.list_id, func.count().label("n"))
        .group_by(ContactListMember.list_id)
        .subquery()
    )
    query = select(
        ContactList.id,
        ContactList.name,
        func.coalesce(counts.c.n, 0),
        ContactList.created_by,
        ContactList.created_at,
    ).outerjoin(counts, counts.c.list_id == ContactList.id)
    page = paging.fetch(session, query, _LISTS, limit=limit, cursor=cursor)
    served = bindings(session=session)
    return paging.mapped(
        page, lambda r: ListRow(r[0], r[1], int(r[2]), served.get(r[1]), r[3], r[4])
    )


def list_members(
    *, session: Session, name: str, limit: int, cursor: str | None = None
) -> Page[MemberRow]:
    """A page of a list's members, by contact id."""
    found = list_id(session, name)
    query = (
        select(
            Contact.id, Contact.first_name, Contact.last_name, Contact.email,
            ContactListMember.added_at,
        )
        .join(Contact, Contact.id == ContactListMember.contact_id)
        .where(ContactListMember.list_id == found)
    )  # fmt: skip
    page = paging.fetch(session, query, _MEMBERS, limit=limit, cursor=cursor)
    return paging.mapped(page, lambda r: MemberRow(r[0], r[1] or "", r[2] or "", r[3], r[4]))


def delete_list(*, session: Session, name: str, viewer: Viewer = OPERATOR) -> None:
    """Delete a list that serves no active sequence (its contacts and enrollments stay)."""
    access.require(viewer, "manage lists")
    found = list_id(session, name)
    served = bound_sequence(session=session, list_name=name)
    if served is not None:
        raise Conflict(
            f"list {name!r} serves the active sequence {served.name!r}: pause or end it first"
        )
    session.execute(delete(ContactListMember).where(ContactListMember.list_id == found))
    session.execute(delete(ContactList).where(ContactList.id == found))
