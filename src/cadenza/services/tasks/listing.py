"""Tasks: manual steps on a person's to-do list, and steps in error waiting for a fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.definition import (
    ManualStepBase,
    Route,
)
from cadenza.errors import NotFound
from cadenza.services import paging
from cadenza.services.enrollments.task_rows import OPEN
from cadenza.services.tasks.queue import UNASSIGNED
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.bulk import chunks
from cadenza.store.catalog import definition_for
from cadenza.store.models import TASK_STATUSES, Enrollment, Sequence, Task, User


def get_task(*, session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


class TaskRow(TypedDict):
    """A task in a listing (times as ISO 8601 with offset)."""

    id: int
    enrollment_id: int | None
    sequence: str | None
    contact_id: int
    step: str | None
    kind: str
    title: str
    assignee: Annotated[str | None, Field(description="The assignee's email")]
    status: str
    outcome: str | None
    priority: str
    reminder: bool
    error: str | None
    subject: str | None
    body: str | None
    due_at: IsoTime | None


ORDER = paging.Order((Task.due_at, Task.id), (datetime, int), nullable_first=True)
KINDS = ("call", "task", "manual_email", "manual_sms", "linkedin", "custom")
PRIORITIES = ("high", "normal", "low")


@dataclass(frozen=True)
class TaskFilter:
    """What a task listing narrows to (None: any)."""

    assignee: str | None = None
    status: str | None = None
    sequence: str | None = None
    kind: str | None = None


def list_tasks(
    *,
    session: Session,
    assignee: str | None = None,
    status: str | None = None,
    limit: int = 1000,
    viewer: Viewer = OPERATOR,
) -> list[TaskRow]:
    """Tasks as rows for listings (id, enrollment_id, step, kind, assignee, status...)."""
    wanted = TaskFilter(assignee=assignee, status=status)
    page = page_tasks(session=session, where=wanted, limit=limit, count=False, viewer=viewer)
    return page.rows


def page_tasks(
    *,
    session: Session,
    where: TaskFilter = TaskFilter(),
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[TaskRow]:
    """A page of tasks, soonest due first, with the next cursor and the true total."""
    conditions = _conditions(session, where, viewer)
    seen = access.row_visible(Task.sequence_id, viewer)
    if seen is not None:  # a person always sees the tasks given to them
        conditions.append(or_(seen, Task.assignee_id == viewer.user_id))
    query = (
        select(*_COLUMNS, User.email, Sequence.name)
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(Sequence, Sequence.id == Task.sequence_id)
        .where(*conditions)
    )
    counted = select(Task.id).where(*conditions)
    page = paging.fetch(
        session, query, ORDER, limit=limit, cursor=cursor, count=count, counted=counted
    )
    return paging.mapped(page, _row)


def _conditions(session: Session, where: TaskFilter, viewer: Viewer) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.assignee == UNASSIGNED:  # an email has an @: no user is called this
        conditions.append(Task.assignee_id.is_(None))
    elif where.assignee is not None:
        user_id = session.scalar(select(User.id).where(User.email == where.assignee.lower()))
        if user_id is None:
            raise paging.InvalidParameter("assignee", f"no user {where.assignee!r}")
        conditions.append(Task.assignee_id == user_id)
    if where.status is not None:
        conditions.append(
            Task.status == paging.one_of("status", where.status, TASK_STATUSES, "a status of tasks")
        )
    if where.kind is not None:
        conditions.append(Task.kind == paging.one_of("kind", where.kind, KINDS))
    if where.sequence is not None:
        conditions.append(Task.sequence_id == paging.sequence_id(session, where.sequence, viewer))
    return conditions


# The columns a row shows, not whole tasks loaded as objects (cheaper on every page).
_COLUMNS = (
    Task.id,
    Task.enrollment_id,
    Task.contact_id,
    Task.step,
    Task.kind,
    Task.title,
    Task.status,
    Task.outcome,
    Task.priority,
    Task.reminder,
    Task.error,
    Task.subject,
    Task.body,
    Task.due_at,
)


def _row(found: Row[*tuple[Any, ...]]) -> TaskRow:
    id_, enrollment_id, contact_id, step, kind, title, status, outcome = found[:8]
    priority, reminder, error, subject, body, due_at, email, sequence = found[8:16]
    return {
        "id": id_,
        "enrollment_id": enrollment_id,
        "sequence": sequence,
        "contact_id": contact_id,
        "step": step,
        "kind": kind,
        "title": title,
        "assignee": email,
        "status": status,
        "outcome": outcome,
        "priority": priority,
        "reminder": reminder,
        "error": error,
        "subject": subject,
        "body": body,
        "due_at": due_at.isoformat() if due_at else None,
    }


def remaining_by_sequence(*, session: Session) -> dict[str, int]:
    """Tasks still to do (open or in error) per sequence name."""
    # Counted by id on the (sequence_id, status) index, named after: a join first would
    # read every task row.
    query = (
        select(Task.sequence_id, func.count())
        .where(Task.status.in_(OPEN), Task.sequence_id.is_not(None))
        .group_by(Task.sequence_id)
    )
    counts = {row[0]: row[1] for row in session.execute(query)}
    names = session.execute(select(Sequence.id, Sequence.name).where(Sequence.id.in_(counts)))
    return {name: counts[sequence_id] for sequence_id, name in names}


def outcome_choices(
    *, session: Session, task_ids: Iterable[int]
) -> dict[int, dict[str, Route | None]]:
    """Each manual task's outcomes and their routes, from its enrollment's pinned version."""
    choices: dict[int, dict[str, Route | None]] = {}
    for batch in chunks(task_ids):
        query = (
            select(Task.id, Task.step, Enrollment.version_id)
            .join(Enrollment, Enrollment.id == Task.enrollment_id)
            .where(Task.id.in_(batch))
        )
        for task_id, key, version_id in session.execute(query):
            definition = definition_for(session=session, version_id=version_id)
            step = next((s for s in definition.steps if s.key == key), None)
            if isinstance(step, ManualStepBase):
                choices[task_id] = step.outcome_routes()
    return choices
