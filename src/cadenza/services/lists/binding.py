"""Which sequence a list serves: `enrollment.list` binds a sequence to one list, and a list
serves at most one active sequence (PCRecruiter's rollup list)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition
from cadenza.errors import Conflict, NotFound
from cadenza.store.bulk import chunks
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.models import ContactList, ContactListMember, Sequence


def list_id(session: Session, name: str) -> int:
    """The id of the list with this name, or NotFound naming it."""
    found = session.scalar(select(ContactList.id).where(ContactList.name == name))
    if found is None:
        raise NotFound(f"no list {name!r} (create it with `cadenza lists add`)")
    return found


def bound_sequence(
    *, session: Session, list_name: str, excluding: int | None = None
) -> Sequence | None:
    """The active sequence whose latest version binds this list (other than `excluding`)."""
    active = session.scalars(
        select(Sequence).where(Sequence.status == "active").order_by(Sequence.id)
    )
    for sequence in active:
        if sequence.id == excluding:
            continue
        version = latest_version(session, sequence)
        if definition_for(session=session, version_id=version.id).enrollment.list_ == list_name:
            return sequence
    return None


def check_binding(*, session: Session, sequence: Sequence, definition: Definition) -> None:
    """Refuse a sequence becoming active on a list that exists not, or serves another one."""
    name = definition.enrollment.list_
    if name is None:
        return
    list_id(session, name)
    other = bound_sequence(session=session, list_name=name, excluding=sequence.id)
    if other is not None:
        raise Conflict(
            f"sequence {sequence.name!r} refused: list {name!r} already serves the active "
            f"sequence {other.name!r} (a list serves one active sequence: pause or end it first)"
        )


def take_off_list(*, session: Session, definition: Definition, contact_ids: list[int]) -> int:
    """Take contacts off the list the definition binds (removed from its sequence); how many."""
    name = definition.enrollment.list_
    if name is None or not contact_ids:
        return 0
    found = session.scalar(select(ContactList.id).where(ContactList.name == name))
    if found is None:
        return 0
    gone = 0
    for batch in chunks(contact_ids):
        result = session.execute(
            delete(ContactListMember).where(
                ContactListMember.list_id == found, ContactListMember.contact_id.in_(batch)
            )
        )
        gone += result.rowcount  # type: ignore[attr-defined]
    return gone


def bindings(*, session: Session) -> dict[str, str]:
    """The name of the active sequence each bound list serves, by list name."""
    served: dict[str, str] = {}
    active = session.scalars(
        select(Sequence).where(Sequence.status == "active").order_by(Sequence.id)
    )
    for sequence in active:
        version = latest_version(session, sequence)
        name = definition_for(session=session, version_id=version.id).enrollment.list_
        if name is not None:
            served.setdefault(name, sequence.name)
    return served
