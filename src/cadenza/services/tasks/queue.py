"""The to-do list as a person works it: filtered, counted in full, paged in a stable order.

Every count is a COUNT query over the same conditions as the page, so a total never stops at
the page size or at any cap. The order is (due, id): a task keeps its place between pages,
and "the next task" of a list is the one after it in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from cadenza.core.access import may
from cadenza.core.zones import zone
from cadenza.errors import Forbidden, NotFound, ValidationFailed
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.store.models import Contact, Sequence, Task, User

KINDS = ("call", "task", "manual_email", "manual_sms", "linkedin")
PRIORITIES = ("high", "normal", "low")
DUE = ("overdue", "today", "upcoming")
MINE, EVERYONE, UNASSIGNED = "me", "all", "unassigned"


@dataclass(frozen=True)
class TaskFilter:
    """What the list shows: whose tasks (me, all, unassigned or an email) and which."""

    assignee: str = MINE
    kind: str | None = None
    sequence: str | None = None
    priority: str | None = None
    due: str | None = None
    status: str = "open"

    def checked(self) -> TaskFilter:
        """The same filter, or ValidationFailed naming the value no list has."""
        for name, value, allowed in (
            ("type", self.kind, KINDS),
            ("priority", self.priority, PRIORITIES),
            ("due", self.due, DUE),
            ("status", self.status, ("open", "error")),
        ):
            if value is not None and value not in allowed:
                raise ValidationFailed(f"{name} {value!r} is not one of {', '.join(allowed)}")
        return self

    def query(self) -> dict[str, str]:
        """The filter as URL parameters (only what differs from the defaults)."""
        values = {
            "assignee": self.assignee if self.assignee != MINE else None,
            "type": self.kind,
            "sequence": self.sequence,
            "priority": self.priority,
            "due": self.due,
            "status": self.status if self.status != "open" else None,
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class Counts:
    """The true number of tasks the filter matches, and per type (the type filter aside)."""

    total: int
    by_kind: dict[str, int]


def may_see_others(viewer: Viewer) -> bool:
    """Managers and admins look at others' lists; an agent has their own."""
    return may(viewer.person, "complete others' tasks")


def _conditions(
    session: Session,
    flt: TaskFilter,
    viewer: Viewer,
    now: datetime,
    zone_name: str,
    *,
    by_kind: bool = True,
) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions (`by_kind` False: every type, for the per-type counts)."""
    found: list[ColumnElement[bool]] = [Task.status == flt.status]
    if by_kind and flt.kind:
        found.append(Task.kind == flt.kind)
    found.append(_whose(session, flt.assignee, viewer))
    if flt.assignee != MINE:
        seen = access.row_visible(Task.sequence_id, viewer)
        if seen is not None:  # the tasks of sequences they see, and their own
            found.append(or_(seen, Task.assignee_id == viewer.user_id))
    if flt.sequence:
        found.append(Task.sequence_id.in_(select(Sequence.id).where(Sequence.name == flt.sequence)))
    if flt.priority:
        found.append(Task.priority == flt.priority)
    if flt.due:
        found.append(_due(flt.due, now, zone_name))
    return found


def _whose(session: Session, assignee: str, viewer: Viewer) -> ColumnElement[bool]:
    if assignee == MINE or (viewer.email and assignee == viewer.email):
        return Task.assignee_id == viewer.user_id
    if not may_see_others(viewer):
        raise Forbidden(f"{viewer.person.role} {viewer.actor} may only see their own tasks")
    if assignee == EVERYONE:
        return true()
    if assignee == UNASSIGNED:
        return Task.assignee_id.is_(None)
    user_id = session.scalar(select(User.id).where(User.email == assignee.strip().lower()))
    if user_id is None:
        raise ValidationFailed(f"assignee {assignee!r}: no such user")
    return Task.assignee_id == user_id


def day_bounds(now: datetime, zone_name: str) -> tuple[datetime, datetime]:
    """Today in the person's zone, as UTC instants [start, end)."""
    here = zone(zone_name)
    today = now.astimezone(here).date()
    start = datetime.combine(today, time(0), tzinfo=here)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=here)
    return start, end


def _due(due: str, now: datetime, zone_name: str) -> ColumnElement[bool]:
    start, end = day_bounds(now, zone_name)
    if due == "overdue":
        return Task.due_at < start
    if due == "today":
        return and_(Task.due_at >= start, Task.due_at < end)
    return Task.due_at >= end


def counts(
    *, session: Session, flt: TaskFilter, viewer: Viewer, now: datetime, zone_name: str
) -> Counts:
    """The total the filter matches, and per type with every other filter applied."""
    conditions = _conditions(session, flt, viewer, now, zone_name, by_kind=False)
    query = select(Task.kind, func.count()).where(*conditions).group_by(Task.kind)
    by_kind: dict[str, int] = {str(kind): int(n) for kind, n in session.execute(query)}
    total = by_kind.get(flt.kind, 0) if flt.kind else sum(by_kind.values())
    return Counts(total, by_kind)


@dataclass(frozen=True)
class QueueRow:
    """A task on the list with what the list shows of its contact."""

    id: int
    title: str
    kind: str
    priority: str
    status: str
    due_at: datetime | None
    step: str | None
    sequence: str | None
    assignee: str | None
    contact_id: int
    contact: str
    company: str | None
    phone: str | None
    timezone: str | None
    reminder: bool
    error: str | None


def _listing(conditions: list[ColumnElement[bool]]) -> Select[Any]:
    columns: list[Any] = [
        Task.id,
        Task.title,
        Task.kind,
        Task.priority,
        Task.status,
        Task.due_at,
        Task.step,
        Sequence.name,
        User.email,
        Task.contact_id,
        Contact.first_name,
        Contact.last_name,
        Contact.email.label("contact_email"),
        Contact.company,
        Contact.phone,
        Contact.timezone,
        Task.reminder,
        Task.error,
    ]
    return (
        select(*columns)
        .join(Contact, Contact.id == Task.contact_id)
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(Sequence, Sequence.id == Task.sequence_id)
        .where(*conditions)
    )


def page(
    *,
    session: Session,
    flt: TaskFilter,
    viewer: Viewer,
    now: datetime,
    zone_name: str,
    offset: int = 0,
    limit: int = 50,
) -> list[QueueRow]:
    """One page of the list, soonest due first (then by id: a stable order)."""
    conditions = _conditions(session, flt, viewer, now, zone_name)
    # The page's ids first, from the index alone (however deep the page), then their rows.
    ids = (
        select(Task.id)
        .where(*conditions)
        .order_by(Task.due_at, Task.id)
        .offset(offset)
        .limit(limit)
        .scalar_subquery()
    )
    query = _listing([Task.id.in_(ids)]).order_by(Task.due_at, Task.id)
    return [_row(r) for r in session.execute(query)]


def _row(r: Any) -> QueueRow:
    name = f"{r.first_name} {r.last_name}".strip() or r.contact_email or r.phone
    return QueueRow(
        id=r.id,
        title=r.title,
        kind=r.kind,
        priority=r.priority,
        status=r.status,
        due_at=r.due_at,
        step=r.step,
        sequence=r.name,
        assignee=r.email,
        contact_id=r.contact_id,
        contact=name or f"contact {r.contact_id}",
        company=r.company,
        phone=r.phone,
        timezone=r.timezone,
        reminder=r.reminder,
        error=r.error,
    )


def neighbours(
    *,
    session: Session,
    flt: TaskFilter,
    viewer: Viewer,
    now: datetime,
    zone_name: str,
    task_id: int,
) -> tuple[int | None, int | None]:
    """The tasks before and after this one in the filtered list's order (None at the ends).

    A task that left the list (just completed) still has its place: the next one is the
    first after where it stood, so a person working the queue goes on down it."""
    position = session.execute(select(Task.due_at, Task.id).where(Task.id == task_id)).first()
    if position is None:
        raise NotFound(f"no task {task_id}")
    conditions = _conditions(session, flt, viewer, now, zone_name)
    due, key = position.due_at, position.id
    if due is None:  # no due time (never written so): by id alone
        earlier, later = Task.id < key, Task.id > key
    else:  # row values: one range of the (due, id) index
        earlier = tuple_(Task.due_at, Task.id) < tuple_(due, key)
        later = tuple_(Task.due_at, Task.id) > tuple_(due, key)
    before = session.scalar(
        select(Task.id)
        .where(*conditions, earlier)
        .order_by(Task.due_at.desc(), Task.id.desc())
        .limit(1)
    )
    after = session.scalar(
        select(Task.id).where(*conditions, later).order_by(Task.due_at, Task.id).limit(1)
    )
    return before, after


def sequence_names(*, session: Session, viewer: Viewer) -> list[str]:
    """The names of the sequences the viewer sees, for the list's sequence filter."""
    query = select(Sequence.name).order_by(Sequence.name)
    if not viewer.sees_everything:
        query = query.where(access.visible_sequences(viewer))
    return list(session.scalars(query))


def contact_tasks(
    *, session: Session, contact_id: int, viewer: Viewer, limit: int = 50
) -> list[QueueRow]:
    """A contact's tasks the viewer sees (their own, or of sequences they see), newest first."""
    conditions: list[ColumnElement[bool]] = [Task.contact_id == contact_id]
    seen = access.row_visible(Task.sequence_id, viewer)
    if seen is not None:
        conditions.append(or_(seen, Task.assignee_id == viewer.user_id))
    query = _listing(conditions).order_by(Task.due_at.desc(), Task.id.desc()).limit(limit)
    return [_row(r) for r in session.execute(query)]
