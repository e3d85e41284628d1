"""Working one task: seeing it, skipping it, moving it to later, logging the call it was for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.access import Reach, may, reach
from cadenza.core.definition import ManualStepBase, Route, Step
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import history
from cadenza.services.enrollments import operations
from cadenza.services.events import record_event
from cadenza.services.tasks.completing import blocking_enrollment, complete_task
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.models import Enrollment, Sequence, Task, User

CALL_RESULTS = ("connected", "no_answer", "left_voicemail", "busy", "wrong_number")
DURATION_LIMIT = 24 * 3600
NOTE_LIMIT = 10_000


def task_seen(*, session: Session, task_id: int, viewer: Viewer) -> Task:
    """The task when the viewer may see it: their own, or of a sequence they see (else 404);
    a task of no sequence is its assignee's and their managers'."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.assignee_id is not None and task.assignee_id == viewer.user_id:
        return task
    sequence = session.get(Sequence, task.sequence_id) if task.sequence_id else None
    if sequence is None:
        if not may(viewer.person, "complete others' tasks"):
            raise NotFound(f"no task {task_id}")
        return task
    if reach(viewer.person, access.shared_of(session, sequence)) == Reach.NONE:
        raise NotFound(f"no task {task_id}")
    return task


@dataclass(frozen=True)
class Place:
    """Where the task's contact is in its sequence: the steps in order and the current one."""

    steps: list[Step]
    current: str | None
    status: str | None
    outcomes: dict[str, Route | None]
    instructions: str | None


def place_of(*, session: Session, task: Task) -> Place:
    """The enrollment's steps (from its pinned version), where it stands and the outcomes."""
    row = (
        session.execute(
            select(Enrollment.version_id, Enrollment.step, Enrollment.status).where(
                Enrollment.id == task.enrollment_id
            )
        ).first()
        if task.enrollment_id is not None
        else None
    )
    if row is None:
        return Place([], None, None, {"done": None}, None)
    definition = definition_for(session=session, version_id=row.version_id)
    step = next((s for s in definition.steps if s.key == task.step), None)
    manual = step if isinstance(step, ManualStepBase) else None
    outcomes: dict[str, Route | None] = {"done": None}
    if manual is not None:
        outcomes = manual.outcome_routes()
    return Place(list(definition.steps), row.step, row.status, outcomes, _script(manual))


def _script(step: ManualStepBase | None) -> str | None:
    return step.instructions if step is not None else None


def assignee_email(*, session: Session, task: Task) -> str | None:
    if task.assignee_id is None:
        return None
    return session.scalar(select(User.email).where(User.id == task.assignee_id))


def skip_task(
    *, session: Session, task_id: int, now: datetime, settings: Settings, viewer: Viewer = OPERATOR
) -> Task:
    """Skip a task: its step's `skipped` outcome when it has one, else the enrollment moves
    on to the next step (a task nobody waits on is just marked skipped)."""
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    place = place_of(session=session, task=task)
    if "skipped" in place.outcomes:
        return complete_task(
            session=session,
            task_id=task_id,
            outcome="skipped",
            now=now,
            settings=settings,
            actor=viewer.actor,
            viewer=viewer,
        )
    if blocking_enrollment(session, task) is not None and task.enrollment_id is not None:
        operations.skip_to_next(
            session=session,
            enrollment_id=task.enrollment_id,
            now=now,
            settings=settings,
            actor=viewer.actor,
            viewer=viewer,
        )
    task.status, task.completed_at = "skipped", now
    return task


def reschedule_task(
    *, session: Session, task_id: int, due_at: datetime, now: datetime, viewer: Viewer = OPERATOR
) -> Task:
    """Move an open task to a later time on the to-do list (history says from when to when)."""
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if task.status != "open":
        raise Conflict(f"task {task_id} is {task.status}: only open tasks are rescheduled")
    if due_at <= now:
        raise ValidationFailed("a task is rescheduled to a time still to come")
    before = task.due_at
    task.due_at = due_at
    history.record(
        session,
        history.Subject(task.contact_id, task.sequence_id, task.enrollment_id),
        "task_rescheduled",
        now,
        step=task.step,
        reason=f"due {due_at.isoformat()}",
        actor=viewer.actor,
        task_id=task.id,
        before=before.isoformat() if before else None,
        after=due_at.isoformat(),
    )
    return task


def log_call(
    *,
    session: Session,
    task_id: int,
    result: str,
    duration_seconds: int,
    note: str,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> dict[str, Any]:
    """Log a call made for a task: a `call_logged` event for its contact (its enrollments
    and triggers react as to any event); what was recorded."""
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if not result.strip():
        raise ValidationFailed("a call log needs an outcome")
    if not 0 <= duration_seconds <= DURATION_LIMIT:
        raise ValidationFailed(f"the duration is 0 to {DURATION_LIMIT} seconds")
    if len(note) > NOTE_LIMIT:
        raise ValidationFailed(f"the note is at most {NOTE_LIMIT} characters")
    data: dict[str, Any] = {
        "outcome": result.strip()[:100],
        "duration_seconds": duration_seconds,
        "task_id": task.id,
        "step": task.step,
    }
    if note.strip():
        data["note"] = note.strip()
    record_event(
        session=session,
        contact_id=task.contact_id,
        name="call_logged",
        data=data,
        now=now,
        settings=settings,
        actor=viewer.actor,
    )
    return data
