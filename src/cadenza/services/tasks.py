"""Tasks: manual steps on a person's to-do list, and steps in error waiting for a fix."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.decisions import CreateTask
from cadenza.core.definition import (
    Definition,
    ManualEmailStep,
    ManualSmsStep,
    ManualStepBase,
    Route,
)
from cadenza.core.templates import build_variables, render
from cadenza.errors import CadenzaError, NotFound
from cadenza.services.views import chunks, definition_for
from cadenza.store.models import Enrollment, Sequence, Task, User

OPEN = ("open", "error")
KIND_TITLES = {
    "call": "Call",
    "task": "To do for",
    "manual_email": "Email",
    "manual_sms": "Text",
    "linkedin": "LinkedIn touch for",
}


def resolve_assignee(
    session: Session,
    rule: str | None,
    *,
    contact_owner: str | None,
    initiator_id: int | None,
    contact: ContactView,
) -> int | None:
    """The user a manual step's task goes to, by its assignee rule."""
    from cadenza.services.users import next_round_robin

    if rule is None or rule == "contact_owner":
        return _user_id(session, contact_owner)
    if rule == "initiator":
        return initiator_id if initiator_id is not None else _user_id(session, contact_owner)
    if rule == "company_owner":
        owner = contact.fields.get("company_owner")
        return _user_id(session, str(owner) if owner else contact_owner)
    kind, _, name = rule.partition(":")
    if kind == "user":
        return _user_id(session, name)
    return next_round_robin(session=session, group_name=name).id


def _user_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    return session.execute(select(User.id).where(User.email == email)).scalar_one_or_none()


def task_row(
    session: Session,
    effect: CreateTask,
    definition: Definition,
    contact: ContactView,
    *,
    enrollment_id: int,
    sequence_id: int,
    contact_id: int,
    initiator_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """A tasks-table row for a manual step (or an automatic step that could not run)."""
    step = definition.step(effect.step)
    name = f"{contact.first_name} {contact.last_name}".strip() or contact.email or contact.phone
    row: dict[str, Any] = {
        "enrollment_id": enrollment_id,
        "contact_id": contact_id,
        "sequence_id": sequence_id,
        "step": step.key,
        "kind": step.action,
        "status": effect.status,
        "error": effect.error,
        "reminder": effect.reminder,
        "due_at": now,
        "created_at": now,
        "priority": "normal",
        "subject": None,
        "body": None,
        "title": f"{KIND_TITLES.get(step.action, step.action.title())} {name}",
        "assignee_id": _user_id(session, contact.owner),
    }
    if effect.status == "error":
        row["title"] = f"Fix and retry: {step.key} for {name}"
        return row
    variables = build_variables(
        contact, sender=definition.senders.model_dump(), sequence={"name": definition.name}
    )
    if isinstance(step, ManualStepBase):
        row["priority"] = step.priority
        row["title"] = _draft(step.title, variables) if step.title else row["title"]
        row["body"] = _draft(step.instructions, variables) if step.instructions else None
        row["assignee_id"] = resolve_assignee(
            session,
            step.assignee,
            contact_owner=contact.owner,
            initiator_id=initiator_id,
            contact=contact,
        )
    if isinstance(step, ManualEmailStep | ManualSmsStep):
        row["body"] = _draft(step.body, variables)
        if isinstance(step, ManualEmailStep):
            row["subject"] = _draft(step.subject, variables)
    return row


def _draft(template: str, variables: dict[str, Any]) -> str:
    try:
        return render(template, variables)
    except CadenzaError:
        return template  # a draft a person edits anyway: keep the template rather than fail


def get_task(*, session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def cancel_open(
    session: Session,
    enrollment_id: int,
    now: datetime,
    status: str = "canceled",
) -> None:
    """Resolve the enrollment's open tasks (it exited, was stopped or removed)."""
    session.execute(
        update(Task)
        .where(Task.enrollment_id == enrollment_id, Task.status.in_(OPEN))
        .values(status=status, completed_at=now)
    )


def list_tasks(
    *,
    session: Session,
    assignee: str | None = None,
    status: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Tasks as rows for listings (id, enrollment_id, step, kind, assignee, status...)."""
    query = (
        select(Task, User.email, Sequence.name)
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(Sequence, Sequence.id == Task.sequence_id)
    )
    if assignee is not None:
        query = query.where(User.email == assignee)
    if status is not None:
        query = query.where(Task.status == status)
    query = query.order_by(Task.due_at, Task.id).limit(limit)
    return [
        {
            "id": task.id,
            "enrollment_id": task.enrollment_id,
            "sequence": sequence,
            "contact_id": task.contact_id,
            "step": task.step,
            "kind": task.kind,
            "title": task.title,
            "assignee": email,
            "status": task.status,
            "outcome": task.outcome,
            "priority": task.priority,
            "reminder": task.reminder,
            "error": task.error,
            "subject": task.subject,
            "body": task.body,
            "due_at": task.due_at.isoformat() if task.due_at else None,
        }
        for task, email, sequence in session.execute(query)
    ]


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


def remaining_by_sequence(*, session: Session) -> dict[str, int]:
    """Tasks still to do (open or in error) per sequence name."""
    query = (
        select(Sequence.name, func.count())
        .join(Task, Task.sequence_id == Sequence.id)
        .where(Task.status.in_(OPEN))
        .group_by(Sequence.name)
    )
    return dict(session.execute(query).all())


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
