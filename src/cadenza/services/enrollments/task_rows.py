"""Task rows for manual steps and for steps in error: what applying a decision creates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, literal, update
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.decisions import CreateTask
from cadenza.core.definition import Definition, ManualEmailStep, ManualSmsStep, ManualStepBase
from cadenza.errors import CadenzaError
from cadenza.services.accounts.managing import company_owners
from cadenza.services.users.people import Directory
from cadenza.store.models import Task

OPEN = ("open", "error")
KIND_TITLES = {
    "call": "Call",
    "task": "To do for",
    "manual_email": "Email",
    "manual_sms": "Text",
    "linkedin": "LinkedIn touch for",
}


def resolve_assignee(
    people: Directory,
    rule: str | None,
    *,
    contact_owner: str | None,
    initiator_id: int | None,
    contact: ContactView,
    contact_id: int | None = None,
) -> int | None:
    """The user a manual step's task goes to, by its assignee rule."""

    if rule is None or rule == "contact_owner":
        return people.user_id(contact_owner)
    if rule == "initiator":
        return initiator_id if initiator_id is not None else people.user_id(contact_owner)
    if rule == "company_owner":
        # The owner of the contact's account; else a `company_owner` field (the contact's
        # own record of it, from before accounts), else the contact's owner.
        account_owner = _account_owner(people, contact_id if contact_id is not None else contact.id)
        if account_owner is not None:
            return account_owner
        owner = contact.fields.get("company_owner")
        return people.user_id(str(owner) if owner else contact_owner)
    kind, _, name = rule.partition(":")
    if kind == "user":
        return people.user_id(name)
    return people.next_member(name)


def _account_owner(people: Directory, contact_id: int | None) -> int | None:
    if contact_id is None:
        return None
    return company_owners(session=people.session, contact_ids=[contact_id]).get(contact_id)


def task_row(
    people: Directory,
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
        "assignee_id": people.user_id(contact.owner),
    }
    if effect.status == "error":
        row["title"] = f"Fix and retry: {step.key} for {name}"
        return row
    if isinstance(step, ManualStepBase):
        row["priority"] = step.priority
        kind, _, group = (step.assignee or "").partition(":")
        if kind == "round_robin":
            # The group's turn is taken with the batch's other turns, once it is decided
            # (`Directory.take_turns`): the task is assigned, and drafted, then.
            manual = step
            people.take_turn_later(
                group, lambda user_id: _assign(people, row, user_id, manual, definition, contact)
            )
            return row
        assignee = resolve_assignee(
            people,
            step.assignee,
            contact_owner=contact.owner,
            initiator_id=initiator_id,
            contact=contact,
            contact_id=contact_id,
        )
        _assign(people, row, assignee, step, definition, contact)
    return row


def _assign(
    people: Directory,
    row: dict[str, Any],
    assignee_id: int | None,
    step: ManualStepBase,
    definition: Definition,
    contact: ContactView,
) -> None:
    """A manual step's task goes to its assignee, with its drafts for them."""
    row["assignee_id"] = assignee_id
    drafts = _drafts(step)
    if drafts:
        # Templates only when the step has some: `user.*` is the task's assignee.
        variables = _variables(people, assignee_id, definition, contact)
        for column, template in drafts:
            row[column] = _draft(template, variables)


def _drafts(step: ManualStepBase) -> list[tuple[str, str]]:
    """The task columns a manual step drafts from its templates, with the templates."""
    drafts = [(c, t) for c, t in (("title", step.title), ("body", step.instructions)) if t]
    if isinstance(step, ManualEmailStep | ManualSmsStep):
        drafts.append(("body", step.body))  # over the instructions, even when empty
        if isinstance(step, ManualEmailStep):
            drafts.append(("subject", step.subject))
    return drafts


def _variables(
    people: Directory, assignee_id: int | None, definition: Definition, contact: ContactView
) -> dict[str, Any]:
    from cadenza.core.templates import build_variables  # the template engine, when drafting

    return build_variables(
        contact,
        user=people.person(assignee_id),
        sender=definition.senders.model_dump(),
        sequence={"name": definition.name},
    )


def _draft(template: str, variables: dict[str, Any]) -> str:
    from cadenza.core.templates import render

    try:
        return render(template, variables)
    except CadenzaError:
        return template  # a draft a person edits anyway: keep the template rather than fail


@dataclass(frozen=True, slots=True)
class Close:
    """An enrollment's open tasks to resolve (of one step, or only those in error)."""

    enrollment_id: int
    status: str
    step: str | None
    errors_only: bool


def _close_statement(with_step: bool, errors_only: bool) -> Update:
    # The statuses as literals: an expanding IN list cannot go into an executemany.
    statuses = [literal(s) for s in (("error",) if errors_only else OPEN)]
    query = update(Task).where(Task.enrollment_id == bindparam("_eid"), Task.status.in_(statuses))
    if with_step:
        query = query.where(Task.step == bindparam("_step"))
    return query.values(status=bindparam("_status"), completed_at=bindparam("_at"))


_CLOSE = {(s, e): _close_statement(s, e) for s in (False, True) for e in (False, True)}


def close_many(session: Session, closes: Sequence[Close], now: datetime) -> None:
    """Resolve the open tasks of many enrollments: one statement per kind of close."""
    by_kind: dict[tuple[bool, bool], list[dict[str, Any]]] = defaultdict(list)
    for c in closes:
        params = {"_eid": c.enrollment_id, "_status": c.status, "_step": c.step, "_at": now}
        by_kind[(c.step is not None, c.errors_only)].append(params)
    connection = session.connection()
    for kind, rows in by_kind.items():
        connection.execute(_CLOSE[kind], rows)


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
