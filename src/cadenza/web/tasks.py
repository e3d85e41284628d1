"""The to-do list: open tasks by due time with their outcome buttons, steps in error to retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import contacts, enrollments, users
from cadenza.services import tasks as task_service
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.web.actions import Change, perform
from cadenza.web.deps import PageViewer
from cadenza.web.describe import route_text
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, words

router = page_router()


@router.get("/tasks")
def tasks_page(request: Request, viewer: PageViewer, assignee: str = "") -> Response:
    """Open tasks soonest due first, then the steps in error waiting for a person."""
    with request.app.state.sessions() as session:
        context = _tasks_context(session, assignee.strip(), viewer)
    here = "/tasks" + (f"?{urlencode({'assignee': assignee})}" if assignee else "")
    return page(request, "tasks.html", {**context, "assignee": assignee, "here": here})


def _tasks_context(session: Session, assignee: str, viewer: Viewer) -> dict[str, Any]:
    who = assignee or None
    todo = task_service.list_tasks(session=session, assignee=who, status="open", viewer=viewer)
    errors = task_service.list_tasks(session=session, assignee=who, status="error", viewer=viewer)
    choices = task_service.outcome_choices(session=session, task_ids=[t["id"] for t in todo])
    contact_ids = {row["contact_id"] for row in todo + errors}
    return {
        "todo": todo,
        "errors": errors,
        "outcomes": {
            task_id: [(name, words(name), route_text(route)) for name, route in routes.items()]
            for task_id, routes in choices.items()
        },
        "names": contacts.contact_names(session=session, contact_ids=contact_ids),
        "users": [user.email for user in users.list_users(session=session)],
    }


@router.post("/tasks/{task_id}/complete")
def complete_task(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    outcome: Annotated[str, Form()],
    back: Annotated[str, Form()] = "/tasks",
) -> Response:
    """Complete a task with the outcome a person picked; its enrollment follows the route."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        choices = task_service.outcome_choices(session=session, task_ids=[task_id])
        if task_id in choices and outcome not in choices[task_id]:
            offered = ", ".join(choices[task_id])
            raise ValidationFailed(f"{outcome!r} is not an outcome of task {task_id} ({offered})")
        task = task_service.complete_task(
            session=session,
            task_id=task_id,
            outcome=outcome,
            now=now,
            settings=settings,
            actor=viewer.actor,
            viewer=viewer,
        )
        moved = _moved(session, task.contact_id, task.enrollment_id, viewer)
        return f"Done: {task.title} — {words(outcome)}.{moved}"

    return perform(request, back, change)


@router.post("/tasks/{task_id}/retry")
def retry_task(
    request: Request, viewer: PageViewer, task_id: int, back: Annotated[str, Form()] = "/tasks"
) -> Response:
    """Run the step a task in error stands for again now."""
    return perform(request, back, _retry(request, task_id, viewer))


def _retry(request: Request, task_id: int, viewer: Viewer) -> Change:
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        task = access.task_for(session=session, viewer=viewer, task_id=task_id)
        if task.enrollment_id is None or task.status != "error":
            raise Conflict(f"task {task_id} is {task.status}: there is no step in error to retry")
        enrollments.retry_step(
            session=session,
            enrollment_id=task.enrollment_id,
            now=now,
            settings=settings,
            actor=viewer.actor,
            viewer=viewer,
        )
        moved = _moved(session, task.contact_id, task.enrollment_id, viewer)
        return f"Step {task.step} will run again.{moved}"

    return change


def _moved(session: Session, contact_id: int, enrollment_id: int | None, viewer: Viewer) -> str:
    """Where the enrollment stands now, for the flash message."""
    if enrollment_id is None:
        return ""
    rows = enrollments.list_enrollments(session=session, contact_id=contact_id, viewer=viewer)
    for row in rows:
        if row["id"] == enrollment_id:
            step = f" at step {row['step']}" if row["step"] else ""
            return f" {row['sequence']}: now {row['status']}{step}."
    return ""
