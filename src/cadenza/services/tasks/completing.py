"""Completing a task: the enrollment it holds follows the outcome's route."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.definition import ManualStepBase
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import history
from cadenza.services.enrollments import operations
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Task


def complete_task(
    *,
    session: Session,
    task_id: int,
    outcome: str,
    now: datetime,
    settings: Settings,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Task:
    """Mark a task done with an outcome; a blocked enrollment follows the outcome's route.

    The viewer completes their own tasks, and others' where `access.task_for` allows."""
    task = access.task_for(session=session, viewer=viewer, task_id=task_id)
    if task.status == "error":
        raise Conflict(f"task {task_id} is in error ({task.error}): fix it and retry the step")
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    enrollment = blocking_enrollment(session, task)
    if enrollment is not None:
        loaded = operations.load(session, enrollment.id, now, settings, locked=enrollment)
        step, routes = str(task.step), _outcomes(loaded.situation, str(task.step))
        if outcome not in routes:
            raise ValidationFailed(
                f"{outcome!r} is not an outcome of step {step!r} (one of {', '.join(routes)})"
            )
        operations.decide(
            session,
            loaded,
            lambda sit, state: machine.complete_task(sit, state, step, outcome),
            now=now,
            actor=actor,
            refresh=False,  # the task is the answer; the enrollment is not read again
        )
    else:
        history.record(
            session,
            history.Subject(task.contact_id, task.sequence_id, task.enrollment_id),
            "task_completed",
            now,
            step=task.step,
            reason=f"outcome {outcome}",
            actor=actor,
            outcome=outcome,
            task_id=task.id,
        )
    task.status, task.outcome, task.completed_at = "done", outcome, now
    return task


def blocking_enrollment(session: Session, task: Task) -> Enrollment | None:
    """The enrollment this task holds, locked for update, when it is waiting on it."""
    if task.enrollment_id is None or task.reminder:
        return None
    enrollment = session.execute(
        select(Enrollment).where(Enrollment.id == task.enrollment_id).with_for_update()
    ).scalar_one_or_none()
    if enrollment is None or enrollment.status != "waiting":
        return None
    waiting = (enrollment.state or {}).get("waiting") or {}
    if waiting.get("kind") != "task" or waiting.get("step") != task.step:
        return None
    return enrollment


def _outcomes(sit: machine.Situation, key: str) -> list[str]:
    step = sit.definition.step(key)
    return list(step.outcome_routes()) if isinstance(step, ManualStepBase) else []
