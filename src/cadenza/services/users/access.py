"""Who is acting, and what they may see and do: the privileges of `core.access` applied to
rows. Every surface (API, UI, reports) builds a Viewer once per request and hands it to the
listings and actions; a sequence a viewer does not reach is NotFound, an action they may not
take Forbidden, each with the reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from cadenza.core.access import NEEDS, Person, Reach, Shared, allowed, may, may_complete, reach
from cadenza.errors import Forbidden, NotFound
from cadenza.services.users.viewers import OPERATOR as OPERATOR
from cadenza.services.users.viewers import Viewer as Viewer
from cadenza.settings import Settings
from cadenza.store.models import (
    Enrollment,
    GroupMember,
    Sequence,
    SequenceMember,
    Task,
    User,
)


def viewer_of(*, session: Session, user: User, settings: Settings, actor: str = "") -> Viewer:
    """The Viewer for a user: their role, the users they share a group with, the setting."""
    mates = session.scalars(
        select(GroupMember.user_id).where(
            GroupMember.group_id.in_(
                select(GroupMember.group_id).where(GroupMember.user_id == user.id)
            )
        )
    )
    person = Person(
        user.id,
        user.role,
        frozenset({user.id, *mates}),
        agents_create=settings.agents_create_sequences,
    )
    return Viewer(person, actor or user.email, user.email)


def operator_as(*, session: Session, email: str | None) -> Viewer:
    """The CLI's viewer: an admin whose actions history gives to `email` (`--as`), else `cli`."""
    if not email:
        return OPERATOR
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"--as {email}: no user {email.strip()} (add them with `cadenza users add`)")
    return Viewer(Person(user.id, "admin"), user.email, user.email)


def require(viewer: Viewer, privilege: str) -> None:
    """Forbidden unless the viewer's role carries the privilege."""
    if not may(viewer.person, privilege):
        raise Forbidden(f"{_who(viewer)} may not {_verb(privilege)}")


def shared_of(session: Session, sequence: Sequence) -> Shared:
    """What decides who reaches a sequence, read from its row and its team."""
    members = session.scalars(
        select(SequenceMember.user_id).where(SequenceMember.sequence_id == sequence.id)
    )
    return Shared(sequence.owner_id, sequence.sharing, sequence.sharing_access, frozenset(members))


def check(
    session: Session, viewer: Viewer, sequence: Sequence, privilege: str = "view sequences"
) -> Reach:
    """NotFound when the viewer does not see the sequence, Forbidden when they may not act."""
    shared = shared_of(session, sequence)
    level = reach(viewer.person, shared)
    if level == Reach.NONE:
        raise NotFound(f"no sequence named {sequence.name!r}")
    if not allowed(viewer.person, privilege, shared):
        raise Forbidden(_refusal(viewer, privilege, sequence, level))
    return level


def sequence_for(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    privilege: str = "view sequences",
    lock: bool = False,
) -> Sequence:
    """The sequence by name once the viewer may use the privilege on it."""
    query = select(Sequence).where(Sequence.name == name)
    found = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no sequence named {name!r}")
    check(session, viewer, found, privilege)
    return found


def enrollment_for(
    *, session: Session, viewer: Viewer, enrollment_id: int, privilege: str = "enroll"
) -> Enrollment:
    """The enrollment once the viewer may use the privilege on its sequence (404 unseen)."""
    enrollment = session.get(Enrollment, enrollment_id)
    sequence = session.get(Sequence, enrollment.sequence_id) if enrollment else None
    if enrollment is None or sequence is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    try:
        check(session, viewer, sequence, privilege)
    except NotFound:
        raise NotFound(f"no enrollment {enrollment_id}") from None
    return enrollment


def task_for(*, session: Session, viewer: Viewer, task_id: int) -> Task:
    """The task once the viewer may complete it: their own, or one of a sequence they work."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    sequence = session.get(Sequence, task.sequence_id) if task.sequence_id else None
    shared = shared_of(session, sequence) if sequence is not None else None
    mine = task.assignee_id is not None and task.assignee_id == viewer.user_id
    if not mine and shared is not None and reach(viewer.person, shared) == Reach.NONE:
        raise NotFound(f"no task {task_id}")
    if not may_complete(viewer.person, shared, task.assignee_id):
        raise Forbidden(
            f"{_who(viewer)} may not complete task {task_id}: it is assigned to someone else "
            "and only the sequence's owner, its team and managers complete others' tasks"
        )
    return task


def visible_sequences(viewer: Viewer, sequences: Any = Sequence) -> ColumnElement[bool]:
    """A condition on `sequences` true for exactly the sequences the viewer sees (`reach`).

    `sequences`: the model, or the Core columns a listing reads (`store.columns`).
    """
    person = viewer.person
    if person.role == "admin":
        return true()
    seen: list[ColumnElement[bool]] = [sequences.sharing == "everyone"]
    if person.user_id is not None:
        seen.append(sequences.owner_id == person.user_id)
        member_of = select(SequenceMember.sequence_id).where(
            SequenceMember.user_id == person.user_id
        )
        seen.append(sequences.id.in_(member_of))
    mates = sorted(person.groupmates)
    if mates:
        seen.append(and_(sequences.sharing == "team", sequences.owner_id.in_(mates)))
        if person.role == "manager":
            seen.append(sequences.owner_id.in_(mates))
    return or_(*seen)


def row_visible(column: Any, viewer: Viewer) -> ColumnElement[bool] | None:
    """A condition on a row's `sequence_id` column: it belongs to a sequence the viewer sees,
    or to none (a contact's own events); None when the viewer sees everything."""
    if viewer.sees_everything:
        return None
    seen = select(Sequence.id).where(visible_sequences(viewer))
    return or_(column.is_(None), column.in_(seen))


def _who(viewer: Viewer) -> str:
    return f"{viewer.person.role} {viewer.actor}"


def _verb(privilege: str) -> str:
    return privilege.replace("others' tasks", "tasks assigned to others")


def _refusal(viewer: Viewer, privilege: str, sequence: Sequence, level: Reach) -> str:
    if not may(viewer.person, privilege):
        return f"{_who(viewer)} may not {_verb(privilege)}"
    need = NEEDS.get(privilege, Reach.NONE)
    return (
        f"{_who(viewer)} may not {_verb(privilege)} on sequence {sequence.name!r}: "
        f"that needs {need.name.lower()} access and they have {level.name.lower()} access "
        f"(sharing {sequence.sharing}, {sequence.sharing_access})"
    )
