"""A contact created, deleted or merged from the UI, and the custom field types managed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.field_types import KINDS
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import contacts
from cadenza.store.db import writing
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, redirect

router = page_router()
NEW_FIELDS = ("first_name", "last_name", "email", "phone", "company", "timezone", "external_id")
Text = Annotated[str, Form(max_length=320)]


@router.get("/contacts/new")
def new_contact_page(request: Request, viewer: PageViewer) -> Response:
    """The form to add one contact."""
    with request.app.state.sessions() as session:
        fields = contacts.list_fields(session=session)
    return page(request, "contact_new.html", {"values": {}, "fields": fields})


@router.post("/contacts/new")
async def create_contact(
    request: Request,
    viewer: PageViewer,
    first_name: Text = "", last_name: Text = "", email: Text = "", phone: Text = "",
    company: Text = "", timezone: Text = "", external_id: Text = "", tags: Text = "",
) -> Response:  # fmt: skip
    """Create the contact (the import's checks) and open its page; a problem comes back."""
    given = {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone}
    given |= {"company": company, "timezone": timezone, "external_id": external_id, "tags": tags}
    data: dict[str, Any] = {k: v.strip() for k, v in given.items() if v.strip()}
    with request.app.state.sessions() as session:
        fields = contacts.list_fields(session=session)
    custom = _custom(await request.form(), fields)
    if custom:
        data["fields"] = custom
    try:
        with writing(request.app.state.sessions) as session:
            contact = contacts.create_contact(
                session=session, data=data, now=request.app.state.clock.now(),
                settings=request.app.state.settings, actor=viewer.actor,
            )  # fmt: skip
            contact_id = contact.id
    except (Conflict, ValidationFailed) as exc:
        context = {"values": given, "fields": fields, "error": str(exc), "custom": custom}
        return page(request, "contact_new.html", context, status=422)
    return redirect(f"/contacts/{contact_id}", "Contact added.")


def _custom(form: Any, fields: list[contacts.FieldRow]) -> dict[str, str]:
    """The custom fields the form filled in (`fields.NAME` inputs)."""
    return {f["name"]: str(form.get(f"fields.{f['name']}", "")).strip() for f in fields
            if str(form.get(f"fields.{f['name']}", "")).strip()}  # fmt: skip


@router.post("/contacts/{contact_id}/delete")
def delete_contact(request: Request, viewer: PageViewer, contact_id: int) -> Response:
    """Delete the contact (managers and admins; the page asks first), then back to the list."""

    def change(session: Session, now: datetime) -> str:
        contacts.delete_contact(session=session, contact_id=contact_id, now=now, viewer=viewer)
        return f"Contact {contact_id} deleted."

    return perform(request, f"/contacts/{contact_id}", change, done="/contacts")


@router.post("/contacts/{contact_id}/merge")
def merge_contact(
    request: Request,
    viewer: PageViewer,
    contact_id: int,
    duplicate_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Merge a duplicate (its id typed in) into this contact."""
    back = f"/contacts/{contact_id}"

    def change(session: Session, now: datetime) -> str:
        if not duplicate_id.strip().isdigit():
            raise ValidationFailed("type the duplicate contact's number")
        duplicate = int(duplicate_id)
        try:
            contacts.get_contact(session=session, contact_id=duplicate)
        except NotFound:
            raise ValidationFailed(f"no contact {duplicate} to merge") from None
        done = contacts.merge(
            session=session, survivor_id=contact_id, duplicate_id=duplicate, now=now,
            settings=request.app.state.settings, viewer=viewer,
        )  # fmt: skip
        removed = len(done.removed_enrollments)
        extra = f"; {removed} of its enrollments removed (already in those sequences)"
        return f"Contact {duplicate} merged into this one" + (extra if removed else "") + "."

    return perform(request, back, change, form=True)


@router.get("/contact-fields")
def fields_page(request: Request, viewer: PageViewer) -> Response:
    """The custom field types every import and edit obeys."""
    with request.app.state.sessions() as session:
        fields = contacts.list_fields(session=session)
    context = {"fields": fields, "kinds": KINDS, "may_manage": _may_manage(viewer)}
    return page(request, "contact_fields.html", context)


def _may_manage(viewer: Any) -> bool:
    from cadenza.core.access import may

    return may(viewer.person, "manage contact fields")


@router.post("/contact-fields")
def define_field(
    request: Request,
    viewer: PageViewer,
    name: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=16)] = "text",
    choices: Annotated[str, Form(max_length=20_000)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Define a custom field's type (managers and admins)."""
    listed = [c.strip() for c in choices.replace("\n", ",").split(",") if c.strip()]

    def change(session: Session, now: datetime) -> str:
        contacts.define_field(
            session=session, name=name, kind=kind, choices=listed or None, label=label,
            now=now, viewer=viewer,
        )  # fmt: skip
        return f"Field {name.strip()} defined."

    return perform(request, "/contact-fields", change, form=True)


@router.post("/contact-fields/{field_name}/delete")
def delete_field(request: Request, viewer: PageViewer, field_name: str) -> Response:
    """Forget a custom field's type (contacts keep their values)."""

    def change(session: Session, now: datetime) -> str:
        contacts.delete_field(session=session, name=field_name, now=now, viewer=viewer)
        return f"Field {field_name} deleted."

    return perform(request, "/contact-fields", change)
