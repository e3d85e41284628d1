"""A contact's fields and flags edited in place, and notes added, from its page or a task's.

Each field is its own small form: it works as a plain form post (back to the page with what
changed), and with htmx it swaps in place, saying what changed or why not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import FLAGS
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import contacts
from cadenza.store.db import writing
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import templates, words
from cadenza.web.workspace import is_htmx

router = page_router()
# What a person edits of a contact here, and how each field is labelled.
FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "company": "Company",
    "title": "Title",
    "email": "Email",
    "phone": "Phone",
    "timezone": "Time zone",
    "owner": "Owner",
    "lead_source": "Lead source",
    "disposition": "Disposition",
    "tags": "Tags",
    **{flag: words(flag) for flag in FLAGS},
}


@router.post("/contacts/{contact_id}/edit")
def edit_field(
    request: Request,
    viewer: PageViewer,
    contact_id: int,
    field: Annotated[str, Form(max_length=100)],
    value: Annotated[str, Form(max_length=5000)] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Change one field or flag of a contact (history says who and when)."""
    if field not in FIELDS:
        raise ValidationFailed(f"{field!r} is not a field edited here")
    settings = request.app.state.settings
    changes = _changes(field, value)

    def change(session: Session, now: datetime) -> str:
        changed = contacts.update_contact(
            session=session,
            contact_id=contact_id,
            changes=changes,
            now=now,
            settings=settings,
            viewer=viewer,
        )
        return f"{FIELDS[field]} saved." if changed else f"{FIELDS[field]} unchanged."

    if not is_htmx(request):
        return perform(request, back or f"/contacts/{contact_id}", change, form=True)
    return _in_place(request, contact_id, field, change)


def _changes(field: str, value: str) -> dict[str, Any]:
    if field == "title":  # the card's title is a custom field, as imports write it
        return {"fields": {"title": value.strip() or None}}
    return {field: value}


def _in_place(request: Request, contact_id: int, field: str, change: Any) -> Response:
    """The field's form again, with its value as saved and what happened."""
    now = request.app.state.clock.now()
    kind, message = "ok", ""
    try:
        with writing(request.app.state.sessions) as session:
            message = change(session, now)
    except (Conflict, ValidationFailed) as exc:
        kind, message = "error", str(exc)
    with request.app.state.sessions() as session:
        contact = contacts.contact_row(session=session, contact_id=contact_id)
    context = {
        "contact": contact,
        "name": field,
        "label": FIELDS[field],
        "message": message,
        "kind": kind,
        "csrf_token": getattr(request.state, "csrf", ""),
        "back": "",
    }
    return templates.TemplateResponse(request, "contact_field.html", context)


@router.post("/contacts/{contact_id}/notes")
def add_note(
    request: Request,
    viewer: PageViewer,
    contact_id: int,
    body: Annotated[str, Form(max_length=20_000)],
    task_id: Annotated[int | None, Form()] = None,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Write a note on the contact."""

    def change(session: Session, now: datetime) -> str:
        contacts.add_note(
            session=session,
            contact_id=contact_id,
            body=body,
            now=now,
            task_id=task_id,
            viewer=viewer,
        )
        return "Note added."

    return perform(request, back or f"/contacts/{contact_id}", change, form=True)
