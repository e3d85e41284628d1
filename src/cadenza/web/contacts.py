"""Contact pages: search and tag filter, one contact's record, and holds on its enrollments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core import reach
from cadenza.core.access import may
from cadenza.errors import NotFound
from cadenza.services import contacts, enrollments, history, outbox
from cadenza.services.tasks import queue
from cadenza.services.users.access import Viewer
from cadenza.web.actions import Change, perform
from cadenza.web.contact_edit import FIELDS
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page
from cadenza.web.workspace import user_zone

router = page_router()
PAGE_SIZE = 100
# An enrollment button's service call and how its result reads.
ENROLLMENT_CHANGES: dict[str, tuple[Callable[..., Any], str]] = {
    "pause": (enrollments.pause_enrollment, "paused"),
    "resume": (enrollments.resume_enrollment, "resumed"),
    "stop": (enrollments.stop, "stopped (its open tasks were canceled)"),
    "skip": (enrollments.skip_to_next, "moved on to the next step"),
    "remove": (enrollments.remove, "removed (its history, tasks and unsent messages are gone)"),
}


@router.get("/contacts")
def contacts_page(request: Request, q: str = "", tag: str = "", offset: int = 0) -> Response:
    """Contacts matching a search and a tag, a page at a time."""
    offset = max(offset, 0)
    with request.app.state.sessions() as session:
        rows = contacts.list_contacts(
            session=session,
            tag=tag.strip() or None,
            search=q.strip() or None,
            limit=PAGE_SIZE + 1,
            offset=offset,
        )
    context = {
        "contacts": rows[:PAGE_SIZE],
        "q": q,
        "tag": tag,
        "offset": offset,
        "more": len(rows) > PAGE_SIZE,
        "page_size": PAGE_SIZE,
    }
    return page(request, "contacts.html", context)


@router.get("/contacts/{contact_id}")
def contact_page(request: Request, viewer: PageViewer, contact_id: int) -> Response:
    """One contact: fields, tags, flags, and the enrollments, messages and history the person
    may see."""
    with request.app.state.sessions() as session:
        context = _contact_context(session, contact_id, viewer)
        context["notes"] = contacts.list_notes(session=session, contact_id=contact_id)
        context["tasks"] = queue.contact_tasks(
            session=session, contact_id=contact_id, viewer=viewer
        )
    context |= {
        "zone": user_zone(request),
        "here": f"/contacts/{contact_id}",
        "card_fields": list(FIELDS.items()),
        "open_fields": True,
        "may_delete": may(viewer.person, "delete contacts"),
    }
    return page(request, "contact.html", context)


def _contact_context(session: Session, contact_id: int, viewer: Viewer) -> dict[str, Any]:
    contact: Mapping[str, Any] = contacts.contact_row(session=session, contact_id=contact_id)
    name = f"{contact['first_name']} {contact['last_name']}".strip()
    return {
        "contact": contact,
        "name": name or contact["email"] or contact["phone"] or f"Contact {contact_id}",
        "flags": [flag for flag in reach.FLAGS if contact[flag]],
        "enrollments": enrollments.list_enrollments(
            session=session, contact_id=contact_id, viewer=viewer
        ),
        "messages": outbox.list_messages(session=session, contact_id=contact_id, viewer=viewer)[
            ::-1
        ],
        "events": history.list_history(
            session=session, contact_id=contact_id, limit=300, viewer=viewer
        )[::-1],
    }


@router.post("/enrollments/{enrollment_id}/{verb}")
def change_enrollment(
    request: Request,
    viewer: PageViewer,
    enrollment_id: int,
    verb: str,
    back: Annotated[str, Form()] = "/",
) -> Response:
    """Pause, resume, stop, move on or remove one enrollment, then go back."""
    if verb not in ENROLLMENT_CHANGES:
        raise NotFound(f"enrollments cannot be {verb!r}-ed here")
    return perform(request, back, _enrollment_change(request, enrollment_id, verb, viewer))


def _enrollment_change(request: Request, enrollment_id: int, verb: str, viewer: Viewer) -> Change:
    act, done = ENROLLMENT_CHANGES[verb]
    extra = {"settings": request.app.state.settings} if verb == "skip" else {}

    def change(session: Session, now: datetime) -> str:
        enrollment = act(
            session=session,
            enrollment_id=enrollment_id,
            now=now,
            actor=viewer.actor,
            viewer=viewer,
            **extra,
        )
        where = f" at step {enrollment.step}" if enrollment.step else ""
        return f"Enrollment {enrollment_id} {done}; now {enrollment.status}{where}."

    return change
