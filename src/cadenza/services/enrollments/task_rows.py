"""Task rows for manual steps and for steps in error: what applying a decision creates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.decisions import CreateTask
from cadenza.core.definition import Definition, ManualEmailStep, ManualSmsStep, ManualStepBase
from cadenza.core.templates import build_variables, render
from cadenza.errors import CadenzaError
from cadenza.services.users.people import next_round_robin
from cadenza.store.models import Task, User

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
    if isinstance(step, ManualStepBase):
        row["assignee_id"] = resolve_assignee(
            session,
            step.assignee,
            contact_owner=contact.owner,
            initiator_id=initiator_id,
            contact=contact,
        )
    variables = build_variables(
        contact,
        user=_person(session, row["assignee_id"]),  # `user.*` is the task's assignee
        sender=definition.senders.model_dump(),
        sequence={"name": definition.name},
    )
    if isinstance(step, ManualStepBase):
        row["priority"] = step.priority
        row["title"] = _draft(step.title, variables) if step.title else row["title"]
        row["body"] = _draft(step.instructions, variables) if step.instructions else None
    if isinstance(step, ManualEmailStep | ManualSmsStep):
        row["body"] = _draft(step.body, variables)
        if isinstance(step, ManualEmailStep):
            row["subject"] = _draft(step.subject, variables)
    return row


def _person(session: Session, user_id: int | None) -> dict[str, str]:
    if user_id is None:
        return {}
    user = session.get(User, user_id)
    return {"name": user.name, "email": user.email, "phone": user.phone or ""} if user else {}


def _draft(template: str, variables: dict[str, Any]) -> str:
    try:
        return render(template, variables)
    except CadenzaError:
        return template  # a draft a person edits anyway: keep the template rather than fail


def close(
    session: Session,
    enrollment_id: int,
    now: datetime,
    *,
    status: str = "canceled",
    step: str | None = None,
    errors_only: bool = False,
) -> None:
    """Resolve an enrollment's open tasks (of one step, or only those in error)."""
    query = update(Task).where(
        Task.enrollment_id == enrollment_id,
        Task.status.in_(("error",) if errors_only else OPEN),
    )
    if step is not None:
        query = query.where(Task.step == step)
    session.execute(query.values(status=status, completed_at=now))


def move(session: Session, enrollment_id: int, from_step: str, to_step: str) -> None:
    """An enrollment's open tasks of one step now complete another (a migration mapped it)."""
    session.execute(
        update(Task)
        .where(
            Task.enrollment_id == enrollment_id,
            Task.step == from_step,
            Task.status.in_(OPEN),
        )
        .values(step=to_step)
    )
