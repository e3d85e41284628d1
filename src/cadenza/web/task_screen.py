"""One task's screen, as a rep works a queue: the contact, the script, where they are in the
sequence, the outcomes, the call log, notes, the draft to edit and send; and those actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core import reach
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import contacts, history, outbox
from cadenza.services import tasks as task_service
from cadenza.services.tasks import queue
from cadenza.services.tasks.sending import sent_outcome
from cadenza.services.tasks.working import place_of
from cadenza.services.users.access import Viewer
from cadenza.store.db import writing
from cadenza.store.models import Task
from cadenza.web.contact_edit import FIELDS
from cadenza.web.deps import PageViewer
from cadenza.web.describe import route_text
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, redirect, words
from cadenza.web.workspace import (
    filter_from_text,
    perform_onward,
    query_text,
    task_filter,
    user_zone,
)

router = page_router()


@router.get("/tasks/{task_id}")
def task_page(request: Request, viewer: PageViewer, task_id: int) -> Response:
    """The task with everything a person needs to do it, and the next one a key away."""
    return _task_screen(request, viewer, task_id, task_filter(request.query_params))


def _task_screen(
    request: Request,
    viewer: Viewer,
    task_id: int,
    flt: Any,
    draft: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The task's page; `draft`: a send that was refused, its text kept and why shown."""
    zone = user_zone(request)
    now = request.app.state.clock.now()
    with request.app.state.sessions() as session:
        task = task_service.task_seen(session=session, task_id=task_id, viewer=viewer)
        context = _context(session, task, viewer, now, zone)
        previous, following = queue.neighbours(
            session=session, flt=flt, viewer=viewer, now=now, zone_name=zone, task_id=task_id
        )
    suffix = query_text(flt)
    context |= {
        "list_query": suffix.lstrip("?"),
        "list_link": "/tasks" + suffix,
        "previous": f"/tasks/{previous}{suffix}" if previous else None,
        "following": f"/tasks/{following}{suffix}" if following else None,
        "here": f"/tasks/{task_id}{suffix}",
        "zone": zone,
        "draft": draft,
    }
    return page(request, "task.html", context, status=status)


def _context(
    session: Session, task: Task, viewer: Viewer, now: datetime, zone: str
) -> dict[str, Any]:
    contact = contacts.contact_row(session=session, contact_id=task.contact_id)
    place = place_of(session=session, task=task)
    name = f"{contact['first_name']} {contact['last_name']}".strip()
    events = history.list_history(
        session=session, contact_id=task.contact_id, limit=15, viewer=viewer
    )[::-1]
    messages = outbox.list_messages(
        session=session, contact_id=task.contact_id, limit=5, newest_first=True, viewer=viewer
    )
    action = "email" if task.kind == "manual_email" else "sms"
    return {
        "task": task,
        "assignee": task_service.assignee_email(session=session, task=task),
        "contact": contact,
        "name": name or contact["email"] or contact["phone"] or f"Contact {task.contact_id}",
        "flags": [flag for flag in reach.FLAGS if contact[flag]],
        "contact_time": _local_time(now, contact["timezone"]),
        "place": place,
        "outcomes": [(o, words(o), route_text(r)) for o, r in place.outcomes.items()],
        "send_outcome": sent_outcome(place.outcomes),
        "blocked": reach.blocked(action, _Flags(contact))
        if task.kind.startswith("manual_")
        else None,
        "results": _call_results(task, place.outcomes),
        "notes": contacts.list_notes(session=session, contact_id=task.contact_id, limit=20),
        "events": events,
        "messages": messages,
        "card_fields": list(FIELDS.items()),
    }


class _Flags:
    """A contact row's flags as `core.reach` reads them."""

    def __init__(self, row: Any) -> None:
        self.dnc = bool(row["dnc"])
        self.sms_opted_out = bool(row["sms_opted_out"])
        self.email_unsubscribed = bool(row["email_unsubscribed"])
        self.email_bounced = bool(row["email_bounced"])


def _local_time(now: datetime, zone: str | None) -> str | None:
    if not zone:
        return None
    try:
        return now.astimezone(ZoneInfo(zone)).strftime("%a %H:%M %Z")
    except (KeyError, ValueError):
        return None


def _call_results(task: Task, outcomes: dict[str, Any]) -> list[str]:
    extra = (
        [o for o in outcomes if o not in task_service.CALL_RESULTS] if task.kind == "call" else []
    )
    return [*task_service.CALL_RESULTS, *extra]


def _back(task_id: int, list_query: str) -> str:
    return f"/tasks/{task_id}" + query_text(filter_from_text(list_query))


@router.post("/tasks/{task_id}/send")
def send_task(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    body: Annotated[str, Form(max_length=100_000)],
    subject: Annotated[str, Form(max_length=2000)] = "",
    list_query: Annotated[str, Form(alias="list")] = "",
) -> Response:
    """Send the edited manual email or text through the outbox; then the next task opens."""
    settings = request.app.state.settings
    flt = filter_from_text(list_query)
    zone = user_zone(request)

    def change(session: Session, now: datetime) -> tuple[str, str]:
        message = task_service.send_manual(
            session=session,
            task_id=task_id,
            subject=subject,
            body=body,
            now=now,
            settings=settings,
            viewer=viewer,
        )
        done = f"Sent to {message.recipient}: it is queued in the outbox (message {message.id})."
        return done, _onward(session, flt, viewer, now, zone, task_id)

    try:
        with writing(request.app.state.sessions) as session:
            done, target = change(session, request.app.state.clock.now())
    except (Conflict, ValidationFailed) as exc:
        # Refused (a flag, quiet hours, no sender, an empty text...): nothing was sent, and
        # the person's edited text comes back in the form beside the reason.
        draft = {"subject": subject, "body": body, "error": str(exc)}
        status = 409 if isinstance(exc, Conflict) else 422
        return _task_screen(request, viewer, task_id, flt, draft, status)
    return redirect(target, done)


def _onward(
    session: Session, flt: Any, viewer: Viewer, now: datetime, zone: str, task_id: int
) -> str:
    _, after = queue.neighbours(
        session=session, flt=flt, viewer=viewer, now=now, zone_name=zone, task_id=task_id
    )
    return (f"/tasks/{after}" if after else "/tasks") + query_text(flt)


@router.post("/tasks/{task_id}/skip")
def skip_task(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    list_query: Annotated[str, Form(alias="list")] = "",
) -> Response:
    """Skip the task (its enrollment moves on); then the next task opens."""
    settings = request.app.state.settings
    flt = filter_from_text(list_query)
    zone = user_zone(request)

    def change(session: Session, now: datetime) -> tuple[str, str]:
        task = task_service.skip_task(
            session=session, task_id=task_id, now=now, settings=settings, viewer=viewer
        )
        return f"Skipped: {task.title}.", _onward(session, flt, viewer, now, zone, task_id)

    return perform_onward(request, _back(task_id, list_query), change)


@router.post("/tasks/{task_id}/reschedule")
def reschedule_task(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    due: Annotated[str, Form(max_length=40)],
    list_query: Annotated[str, Form(alias="list")] = "",
) -> Response:
    """Move the task to a later time (typed in the person's own zone)."""
    zone = user_zone(request)
    back = _back(task_id, list_query)

    def change(session: Session, now: datetime) -> tuple[str, str]:
        when = _typed_time(due, zone)
        task = task_service.reschedule_task(
            session=session, task_id=task_id, due_at=when, now=now, viewer=viewer
        )
        local = when.astimezone(ZoneInfo(zone)).strftime("%a %b %d %H:%M %Z")
        return f"{task.title} is now due {local}.", back

    return perform_onward(request, back, change)


def _typed_time(text: str, zone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{text!r} is not a date and time like 2026-03-05T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


@router.post("/tasks/{task_id}/call")
def log_call(
    request: Request,
    viewer: PageViewer,
    task_id: int,
    result: Annotated[str, Form(max_length=100)],
    minutes: Annotated[str, Form(max_length=10)] = "0",
    note: Annotated[str, Form(max_length=10_000)] = "",
    list_query: Annotated[str, Form(alias="list")] = "",
) -> Response:
    """Log the call: outcome, duration and a note become a `call_logged` event."""
    settings = request.app.state.settings
    back = _back(task_id, list_query)

    def change(session: Session, now: datetime) -> tuple[str, str]:
        seconds = _duration(minutes)
        task_service.log_call(
            session=session,
            task_id=task_id,
            result=result,
            duration_seconds=seconds,
            note=note,
            now=now,
            settings=settings,
            viewer=viewer,
        )
        length = f"{seconds // 60}:{seconds % 60:02d}"
        return f"Call logged: {words(result)}, {length}.", back

    return perform_onward(request, back, change)


def _duration(text: str) -> int:
    """Minutes as typed (`5`, `2.5` or `2:30`) in seconds."""
    value = text.strip() or "0"
    try:
        if ":" in value:
            whole, _, seconds = value.partition(":")
            return int(whole) * 60 + int(seconds)
        return round(float(value) * 60)
    except (ValueError, OverflowError):
        raise ValidationFailed(f"duration {text!r}: minutes like 5, 2.5 or 2:30") from None
