"""Contacts: list, create, show, record an event, import a CSV file."""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cadenza.api.deps import (
    ClockDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    ViewerDep,
    WriteSessionDep,
)
from cadenza.api.idempotency import KeyHeader, once
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import (
    CONFLICT,
    FORBIDDEN,
    MAX_ID,
    MISSING,
    Instant,
    Key,
    Model,
    PathId,
)
from cadenza.core.contact_fields import TAG_LIMIT, TEXT_LIMITS
from cadenza.errors import ValidationFailed
from cadenza.services import contacts as service
from cadenza.services.audiences import page_view_contacts
from cadenza.services.contacts import ContactRow, ImportReport, NoteRow, import_csv
from cadenza.services.contacts.listing import page_contacts
from cadenza.services.contacts.notes import NOTE_LIMIT
from cadenza.services.contacts.single import require_contact
from cadenza.services.events import record_event
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings
from cadenza.store.db import writing

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=ApiRoute)

EMAIL_LIMIT = 320  # RFC 5321's longest address, and the column's width
TAGS_LIMIT = 100
TAGS_TEXT_LIMIT = TAGS_LIMIT * (TAG_LIMIT + 1)
FIELDS_LIMIT = 200
Tag = Annotated[str, Field(max_length=TAG_LIMIT)]
ExternalId = Annotated[str, PathParam(min_length=1, max_length=TEXT_LIMITS["external_id"])]
MatchKey = Literal["email", "phone", "external_id"]
CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Created"}}


class NewContact(Model):
    """A contact to create: an email or a phone at least; checked as an import row is."""

    first_name: str | None = Field(None, max_length=TEXT_LIMITS["first_name"])
    last_name: str | None = Field(None, max_length=TEXT_LIMITS["last_name"])
    email: str | None = Field(None, max_length=EMAIL_LIMIT)
    phone: str | None = Field(None, max_length=64, description="Any common format; stored as E.164")
    timezone: str | None = Field(
        None, max_length=64, description="IANA name; else guessed from the phone"
    )
    company: str | None = Field(None, max_length=TEXT_LIMITS["company"])
    owner: str | None = Field(None, max_length=EMAIL_LIMIT, description="A user's email")
    lead_source: str | None = Field(None, max_length=TEXT_LIMITS["lead_source"])
    disposition: str | None = Field(None, max_length=TEXT_LIMITS["disposition"])
    external_id: str | None = Field(
        None, max_length=TEXT_LIMITS["external_id"], description="The id in another system"
    )
    tags: list[Tag] | Annotated[str, Field(max_length=TAGS_TEXT_LIMIT)] | None = Field(
        None, max_length=TAGS_LIMIT, description="A list, or one string of comma-separated tags"
    )
    fields: dict[Key, Any] | None = Field(
        None, max_length=FIELDS_LIMIT, description="Custom fields"
    )
    dnc: bool | None = None
    sms_opted_out: bool | None = None
    email_unsubscribed: bool | None = None
    email_bounced: bool | None = None


class ContactChanges(Model):
    """Changes to a contact: only the fields given change; null clears a field (a name to
    empty), a custom field set to null is removed. `tags` replaces the contact's tags."""

    first_name: str | None = Field(None, max_length=TEXT_LIMITS["first_name"])
    last_name: str | None = Field(None, max_length=TEXT_LIMITS["last_name"])
    email: str | None = Field(None, max_length=EMAIL_LIMIT)
    phone: str | None = Field(None, max_length=64, description="Any common format; stored as E.164")
    timezone: str | None = Field(None, max_length=64, description="IANA name")
    company: str | None = Field(None, max_length=TEXT_LIMITS["company"])
    owner: str | None = Field(None, max_length=EMAIL_LIMIT, description="A user's email")
    lead_source: str | None = Field(None, max_length=TEXT_LIMITS["lead_source"])
    disposition: str | None = Field(None, max_length=TEXT_LIMITS["disposition"])
    external_id: str | None = Field(
        None, max_length=TEXT_LIMITS["external_id"], description="The id in another system"
    )
    tags: list[Tag] | None = Field(None, max_length=TAGS_LIMIT, description="The full list")
    fields: dict[Key, Any] | None = Field(
        None, max_length=FIELDS_LIMIT, description="Custom fields to set (null removes one)"
    )
    dnc: bool | None = None
    sms_opted_out: bool | None = None
    email_unsubscribed: bool | None = None
    email_bounced: bool | None = None


class NewEvent(Model):
    name: str = Field(min_length=1, max_length=100, description="replied, bounced, tag_added, ...")
    data: dict[Key, Any] = Field(
        default_factory=dict, max_length=FIELDS_LIMIT, description='e.g. {"tag": "vip"}'
    )


class RecordedEvent(BaseModel):
    type: str
    time: Instant
    step: str | None
    data: dict[str, Any]


class Recorded(BaseModel):
    contact_id: int
    events: list[RecordedEvent] = Field(description="What the event changed (none: no change)")


class RowProblem(BaseModel):
    column: str
    message: str


class Rejected(BaseModel):
    row: int = Field(description="The row number as a spreadsheet shows it (header = 1)")
    reason: str
    problems: list[RowProblem]
    cells: list[str]


class Imported(BaseModel):
    rows: int
    imported: int
    updated: int
    merged: int = Field(description="Rows folded into an earlier row for the same person")
    rejected: int = Field(description="How many rows were rejected")
    rejections: list[Rejected] = Field(
        description="The first 100 rejected rows, in file order (`rejected` counts them all)"
    )
    matched_accounts: int = Field(
        0, description="Contacts that joined the account of their email's domain"
    )


@router.get("", responses=PAGED | MISSING)
def list_contacts(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    clock: ClockDep,
    tag: Annotated[str | None, Query(max_length=TAG_LIMIT)] = None,
    search: str | None = Query(
        None, max_length=200, description="In names, email, phone and company"
    ),
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Deprecated: skip this many (use `cursor`)")
    ] = 0,
    view: Annotated[
        str | None, Query(max_length=200, description="Only the contacts a saved view shows")
    ] = None,
) -> list[ContactRow]:
    """Contacts in id order, a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    if view is not None:
        if tag is not None or search is not None or offset:
            raise ValidationFailed("view goes without tag, search and offset")
        found = page_view_contacts(
            session=session, viewer=viewer, view=view, now=clock.now(), limit=limit, cursor=cursor
        )
        return paged(request, response, found)
    page = page_contacts(
        session=session, tag=tag, search=search, limit=limit, cursor=cursor, offset=offset
    )
    return paged(request, response, page)


@router.post("", status_code=201, responses=CONFLICT)
def create_contact(
    body: NewContact,
    request: Request,
    sessions: SessionsDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    idempotency_key: KeyHeader = None,
) -> ContactRow:
    """Create a contact; each bad field is named (422); the same email or phone is 409.

    With an `Idempotency-Key`, a retry of the same request answers as the first did.
    """
    access.require(viewer, "edit contacts")
    data = body.model_dump(exclude_none=True)

    def write() -> tuple[int, dict[str, Any], str | None]:
        with writing(sessions) as session:
            contact = service.create_contact(
                session=session, data=data, now=clock.now(), settings=settings,
                actor=viewer.actor,
            )  # fmt: skip
            row = service.contact_row(session=session, contact_id=contact.id)
        return 201, jsonable_encoder(row), f"/api/v1/contacts/{row['id']}"

    return once(  # type: ignore[return-value]  # a JSONResponse of a ContactRow
        request, key=idempotency_key, viewer=viewer, sessions=sessions, clock=clock,
        parts=(body.model_dump_json(),), write=write,
    )  # fmt: skip


@router.post("/import")
def import_contacts(
    file: UploadFile,
    request: Request,
    sessions: SessionsDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    tags: Annotated[list[str] | None, Form(description="Tags for every imported contact")] = None,
    map: Annotated[list[str] | None, Form(description="field=Column header (repeatable)")] = None,
    match_accounts: Annotated[
        bool, Form(description="Put contacts in the account of their email's domain")
    ] = False,
    match_on: Annotated[
        Literal["email", "external_id"],
        Form(
            description="email: the same email, else phone, is the same contact; "
            "external_id: the same external_id is"
        ),
    ] = "email",
    idempotency_key: KeyHeader = None,
) -> Imported:
    """Import a CSV file (multipart `file`): good rows in one transaction, bad rows listed.

    With an `Idempotency-Key` (a CRM pushing the same file again after a timeout), a retry
    of the same request answers as the first did and imports nothing twice.
    """
    access.require(viewer, "edit contacts")
    with tempfile.TemporaryDirectory(prefix="cadenza-import-") as folder:
        # The import reads a path (and writes its rejects beside it): a private copy.
        path = Path(folder) / _file_name(file.filename)
        with path.open("wb") as handle:
            shutil.copyfileobj(file.file, handle)

        def write() -> tuple[int, dict[str, Any], str | None]:
            report = import_csv(
                session_factory=sessions,
                path=path,
                mapping=_mapping(map or []),
                default_region=settings.default_region,
                now=clock.now(),
                default_tags=tags or (),
                settings=settings,
                actor=viewer.actor,
                match_accounts=match_accounts,
                match_on=match_on,
            )
            return 200, _imported(report).model_dump(mode="json"), None

        parts: tuple[bytes | str, ...] = (
            path.read_bytes(), "\n".join(tags or ()), "\n".join(map or ()), match_on,
            *(("match_accounts",) if match_accounts else ()),
        )  # fmt: skip
        return once(  # type: ignore[return-value]  # a JSONResponse of an Imported
            request, key=idempotency_key, viewer=viewer, sessions=sessions, clock=clock,
            parts=parts, write=write,
        )  # fmt: skip


@router.get("/by-external-id/{external_id}", responses=MISSING)
def show_by_external_id(
    external_id: ExternalId, session: SessionDep, settings: SettingsDep
) -> ContactRow:
    """The contact with this external id."""
    found = require_contact(
        session=session, key="external_id", value=external_id, region=settings.default_region
    )
    return service.contact_row(session=session, contact_id=found.id)


@router.put("/by-external-id/{external_id}", responses=CONFLICT | CREATED)
def put_by_external_id(
    external_id: ExternalId,
    body: NewContact,
    response: Response,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> ContactRow:
    """Create or update the contact with this external id (201 when created, else 200).

    An update changes the values given: custom fields merge, tags are added."""
    data = body.model_dump(exclude_none=True) | {"external_id": external_id}
    return _upserted(data, "external_id", response, session, clock.now(), settings, viewer)


@router.post("/upsert", responses=CONFLICT | CREATED)
def upsert_contact(
    body: NewContact,
    response: Response,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    match_on: Annotated[
        MatchKey, Query(description="The key that finds the contact to update")
    ] = "email",
) -> ContactRow:
    """Update the contact whose `match_on` value the body gives, else create it (201)."""
    data = body.model_dump(exclude_none=True)
    return _upserted(data, match_on, response, session, clock.now(), settings, viewer)


def _upserted(
    data: dict[str, Any],
    match_on: str,
    response: Response,
    session: Session,
    now: datetime,
    settings: Settings,
    viewer: Viewer,
) -> ContactRow:
    contact, created = service.upsert_contact(
        session=session, data=data, match_on=match_on, now=now, settings=settings, viewer=viewer
    )
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/api/v1/contacts/{contact.id}"
    return service.contact_row(session=session, contact_id=contact.id)


@router.get("/{contact_id}", responses=MISSING)
def show_contact(contact_id: PathId, session: SessionDep) -> ContactRow:
    """One contact."""
    return service.contact_row(session=session, contact_id=contact_id)


@router.patch("/{contact_id}", responses=MISSING | CONFLICT | FORBIDDEN)
def update_contact(
    contact_id: PathId,
    body: ContactChanges,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> ContactRow:
    """Change a contact's fields, tags and flags; each change is in history with who made it.

    A bad value is a 422 naming it (nothing changes); another contact's email is a 409."""
    changes = body.model_dump(exclude_unset=True)
    for flag in ("dnc", "sms_opted_out", "email_unsubscribed", "email_bounced"):
        if flag in changes and changes[flag] is None:
            raise ValidationFailed(f"{flag}: true or false")
    if changes.get("tags", []) is None:
        changes["tags"] = []
    service.update_contact(
        session=session,
        contact_id=contact_id,
        changes=changes,
        now=clock.now(),
        settings=settings,
        viewer=viewer,
    )
    return service.contact_row(session=session, contact_id=contact_id)


@router.delete(
    "/{contact_id}", status_code=204, response_class=Response, responses=MISSING | FORBIDDEN
)
def delete_contact(
    contact_id: PathId, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> Response:
    """Delete a contact with its enrollments, tasks and notes (managers and admins)."""
    service.delete_contact(session=session, contact_id=contact_id, now=clock.now(), viewer=viewer)
    return Response(status_code=204)


@router.post("/{contact_id}/events", responses=MISSING)
def add_event(
    contact_id: PathId,
    body: NewEvent,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> Recorded:
    """Record what happened to a contact (a reply exits its sequences, a tag may enroll...)."""
    access.require(viewer, "edit contacts")
    records = record_event(
        session=session,
        contact_id=contact_id,
        name=body.name,
        data=body.data,
        now=clock.now(),
        settings=settings,
        actor=viewer.actor,
    )
    events = [RecordedEvent(type=r.type, time=r.time, step=r.step, data=r.data) for r in records]
    return Recorded(contact_id=contact_id, events=events)


def _file_name(name: str | None) -> str:
    # Only the base name, tamed: it names the file in messages, never a place on disk.
    base = re.sub(r"[^\w.-]+", "_", Path(name or "").name)[:100].lstrip(".")
    return base or "contacts.csv"


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, eq, column = pair.partition("=")
        if not eq or not name.strip() or not column.strip():
            raise ValidationFailed(f"map {pair!r}: write it as field=Column header")
        mapping[name.strip()] = column.strip()
    return mapping


def _imported(report: ImportReport) -> Imported:
    rejections = [
        Rejected(
            row=r.row,
            reason=r.reason,
            problems=[RowProblem(column=c, message=m) for c, m in r.problems],
            cells=list(r.cells),
        )
        for r in report.listed()
    ]
    return Imported(
        rows=report.rows,
        imported=report.imported,
        updated=report.updated,
        merged=report.merged,
        rejected=report.rejected,
        rejections=rejections,
        matched_accounts=report.matched_accounts,
    )


class MergeRequest(Model):
    duplicate_id: int = Field(ge=1, le=MAX_ID, description="The contact folded in and deleted")


class MergeAnswer(BaseModel):
    contact: ContactRow
    duplicate_id: int
    removed_enrollments: list[int] = Field(
        description="The duplicate's enrollments in sequences the survivor was already in"
    )
    filled: list[str] = Field(description="The survivor's blanks filled from the duplicate")
    flags: list[str] = Field(description="Flags the survivor took from the duplicate")


@router.post("/{contact_id}/merge", responses=MISSING | FORBIDDEN)
def merge_contacts(
    contact_id: PathId,
    body: MergeRequest,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> MergeAnswer:
    """Merge a duplicate into this contact (managers and admins): its enrollments, tasks,
    notes, messages and history follow; the duplicate is deleted."""
    done = service.merge(
        session=session, survivor_id=contact_id, duplicate_id=body.duplicate_id,
        now=clock.now(), settings=settings, viewer=viewer,
    )  # fmt: skip
    return MergeAnswer(
        contact=service.contact_row(session=session, contact_id=contact_id),
        duplicate_id=done.duplicate_id,
        removed_enrollments=done.removed_enrollments,
        filled=done.filled,
        flags=done.flags,
    )


class NewNote(Model):
    body: str = Field(min_length=1, max_length=NOTE_LIMIT)


@router.get("/{contact_id}/notes", responses=MISSING)
def list_notes(
    contact_id: PathId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NoteRow]:
    """A contact's latest notes, newest first."""
    service.get_contact(session=session, contact_id=contact_id)
    return service.list_notes(session=session, contact_id=contact_id, limit=limit)


@router.post("/{contact_id}/notes", status_code=201, responses=MISSING)
def add_note(
    contact_id: PathId,
    body: NewNote,
    response: Response,
    session: WriteSessionDep,
    clock: ClockDep,
    viewer: ViewerDep,
) -> NoteRow:
    """Write a note on a contact (in its history too)."""
    note = service.add_note(
        session=session, contact_id=contact_id, body=body.body, now=clock.now(), viewer=viewer
    )
    response.headers["Location"] = f"/api/v1/contacts/{contact_id}/notes/{note.id}"
    rows = service.list_notes(session=session, contact_id=contact_id, limit=500)
    return next(row for row in rows if row["id"] == note.id)


@router.delete(
    "/{contact_id}/notes/{note_id}",
    status_code=204,
    response_class=Response,
    responses=MISSING | FORBIDDEN,
)
def delete_note(
    contact_id: PathId,
    note_id: PathId,
    session: WriteSessionDep,
    clock: ClockDep,
    viewer: ViewerDep,
) -> Response:
    """Delete a note: your own, or anyone's if you may delete contacts."""
    service.delete_note(
        session=session, contact_id=contact_id, note_id=note_id, now=clock.now(), viewer=viewer
    )
    return Response(status_code=204)
