"""The to-do list: "My tasks" (others' for those who may), filtered, counted in full, paged;
and what a person does to a task from the list or its screen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import enrollments, users
from cadenza.services import tasks as task_service
from cadenza.services.tasks import TaskFilter, queue
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.web.actions import Change, perform
from cadenza.web.deps import PageViewer
from cadenza.web.describe import route_text
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, words
from cadenza.web.workspace import (
    Onward,
    filter_from_text,
    perform_onward,
    query_text,
    task_filter,
    user_zone,
)

router = page_router()
PAGE_SIZE = 50
TYPE_LABELS = {
    "call": "Calls",
    "task": "Tasks",
    "manual_email": "Manual emails",
    "manual_sms": "Manual SMS",
    "linkedin": "LinkedIn",
}


@router.get("/tasks")
def tasks_page(request: Request, viewer: PageViewer, page_number: int = 1) -> Response:
    """Open tasks soonest due first, with counts per type; the steps in error below."""
    flt = task_filter(request.query_params)
    number = max(1, min(page_number, 10**7))
    zone = user_zone(request)
    now = request.app.state.clock.now()
    with request.app.state.sessions() as session:
        context = _tasks_context(session, flt, viewer, now, zone, number)
    return page(request, "tasks.html", context)


def _tasks_context(
    session: Session, flt: TaskFilter, viewer: Viewer, now: datetime, zone: str, number: int
) -> dict[str, Any]:
    args: dict[str, Any] = {"session": session, "viewer": viewer, "now": now, "zone_name": zone}
    counts = queue.counts(flt=flt, **args)
    rows = queue.page(flt=flt, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, **args)
    # Steps in error are often nobody's own: those who see others' tasks see them all.
    others = queue.may_see_others(viewer)
    broken = "all" if flt.assignee == "me" and others else flt.assignee
    errors = TaskFilter(assignee=broken, status="error")
    error_count = queue.counts(flt=errors, **args).total
    error_rows = queue.page(flt=errors, limit=PAGE_SIZE, **args) if error_count else []
    choices = task_service.outcome_choices(session=session, task_ids=[t.id for t in rows])
    pages = max(1, -(-counts.total // PAGE_SIZE))
    return {
        "todo": rows,
        "counts": counts,
        "errors": error_rows,
        "error_count": error_count,
        "outcomes": {
            task_id: [(name, words(name), route_text(route)) for name, route in routes.items()]
            for task_id, routes in choices.items()
        },
        "flt": flt,
        "here": "/tasks" + query_text(flt, page_number=number if number > 1 else 0),
        "list_query": query_text(flt),
        "types": TYPE_LABELS,
        "sequences": queue.sequence_names(session=session, viewer=viewer),
        "users": [u.email for u in users.list_users(session=session)] if others else [],
        "may_see_others": others,
        "number": number,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "zone": zone,
        "link": lambda **changed: "/tasks" + query_text(_changed(flt, changed)),
        "page_link": lambda n: "/tasks" + query_text(flt, page_number=n if n > 1 else 0),
    }


def _changed(flt: TaskFilter, changed: dict[str, str | None]) -> TaskFilter:
    values = {**flt.__dict__, **changed}
    return TaskFilter(**values)


@router.post("/tasks/{task_id}/complete")
def complete_task(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    outcome: Annotated[str, Form()],
    back: Annotated[str, Form()] = "/tasks",
    then: Annotated[str, Form()] = "",
    list_query: Annotated[str, Form(alias="list")] = "",
) -> Response:
    """Complete a task with the outcome a person picked; its enrollment follows the route.
    From a task's screen (`then=next`) the next task of the list opens."""
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

    if then == "next":
        onward = _then_next(request, viewer, task_id, list_query, change)
        return perform_onward(request, back, onward)
    return perform(request, back, change)


def _then_next(
    request: Request, viewer: Viewer, task_id: int, list_query: str, change: Change
) -> Onward:
    """The change, then where to go: the task after this one in the list it came from."""
    flt = filter_from_text(list_query)
    zone = user_zone(request)

    def onward(session: Session, now: datetime) -> tuple[str, str]:
        message = change(session, now)
        _, after = queue.neighbours(
            session=session, flt=flt, viewer=viewer, now=now, zone_name=zone, task_id=task_id
        )
        if after is None:
            return message + " That was the last task of the list.", "/tasks" + query_text(flt)
        return message, f"/tasks/{after}" + query_text(flt)

    return onward


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
