"""People's operations on enrollments and tasks: complete a task, retry a step in error."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import history
from cadenza.services.effects import Applier, Ref, state_of
from cadenza.services.tasks import blocking_enrollment, get_task
from cadenza.services.views import definition_for, load_views
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Sequence, Task


def ref_of(session: Session, enrollment: Enrollment) -> Ref:
    sequence = session.get(Sequence, enrollment.sequence_id)
    assert sequence is not None
    depth = int((enrollment.state or {}).get("depth", 0))
    return Ref(
        enrollment.id,
        enrollment.sequence_id,
        sequence.name,
        enrollment.version_id,
        enrollment.contact_id,
        enrollment.initiator_id,
        depth,
    )


def situation_of(
    session: Session, enrollment: Enrollment, now: datetime, settings: Settings
) -> machine.Situation:
    definition = definition_for(session=session, version_id=enrollment.version_id)
    contact = load_views(session=session, contact_ids=[enrollment.contact_id])[
        enrollment.contact_id
    ]
    sequence = session.get(Sequence, enrollment.sequence_id)
    status = sequence.status if sequence else "active"
    return machine.Situation(
        definition, contact, now=now, sequence_status=status, quiet=settings.quiet_hours
    )


def complete_task(
    *,
    session: Session,
    task_id: int,
    outcome: str,
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> Task:
    """Mark a task done with an outcome; a blocked enrollment follows the outcome's route."""
    task = get_task(session=session, task_id=task_id)
    if task.status == "error":
        raise Conflict(f"task {task_id} is in error ({task.error}): fix it and retry the step")
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}")
    enrollment = blocking_enrollment(session, task)
    if enrollment is not None:
        sit = situation_of(session, enrollment, now, settings)
        try:
            decision = machine.complete_task(sit, state_of(enrollment), str(task.step), outcome)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        applier = Applier(session, now, settings, actor)
        applier.apply(ref_of(session, enrollment), sit.definition, sit.contact, decision)
        applier.flush()
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


def retry_step(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> Enrollment:
    """Run a step in error again now: its error task is resolved and the worker picks it up."""
    enrollment = locked_enrollment(session, enrollment_id)
    waiting = (enrollment.state or {}).get("waiting") or {}
    if enrollment.status != "waiting" or waiting.get("kind") != "task":
        raise Conflict(f"enrollment {enrollment_id} has no step in error to retry")
    errors = [t for t in enrollment_tasks(session, enrollment_id) if t.status == "error"]
    if not errors:
        raise Conflict(f"enrollment {enrollment_id} is waiting on a person, not on an error")
    for task in errors:
        task.status, task.completed_at = "skipped", now
    sit = situation_of(session, enrollment, now, settings)
    decision = machine.retry(sit, state_of(enrollment))
    applier = Applier(session, now, settings, actor)
    applier.apply(ref_of(session, enrollment), sit.definition, sit.contact, decision)
    applier.flush()
    session.refresh(enrollment)
    return enrollment


def enrollment_tasks(session: Session, enrollment_id: int) -> list[Task]:
    from sqlalchemy import select

    return list(session.scalars(select(Task).where(Task.enrollment_id == enrollment_id)))


def locked_enrollment(session: Session, enrollment_id: int) -> Enrollment:
    from sqlalchemy import select

    from cadenza.errors import NotFound

    enrollment = session.execute(
        select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update()
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    return enrollment
