"""Notes people write on a contact: added (in history too) and read, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.access import may
from cadenza.errors import Forbidden, NotFound, ValidationFailed
from cadenza.services import history
from cadenza.services.contacts.records import get_contact
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Note, Task

NOTE_LIMIT = 10_000


class NoteRow(TypedDict):
    id: int
    contact_id: int
    task_id: int | None
    author: str
    body: str
    created_at: IsoTime


def add_note(
    *,
    session: Session,
    contact_id: int,
    body: str,
    now: datetime,
    task_id: int | None = None,
    viewer: Viewer = OPERATOR,
) -> Note:
    """Write a note on a contact; `note_added` in history names its author."""
    access.require(viewer, "edit contacts")
    text = body.strip()
    if not text:
        raise ValidationFailed("a note needs some text")
    if len(text) > NOTE_LIMIT:
        raise ValidationFailed(f"a note is at most {NOTE_LIMIT} characters")
    get_contact(session=session, contact_id=contact_id)
    if task_id is not None and session.get(Task, task_id) is None:
        raise ValidationFailed(f"no task {task_id}")
    if task_id is not None and session.get(Task, task_id).contact_id != contact_id:  # type: ignore[union-attr]
        raise ValidationFailed(f"task {task_id} is not one of contact {contact_id}'s")
    note = Note(
        contact_id=contact_id,
        task_id=task_id,
        author_id=viewer.user_id,
        author=viewer.actor,
        body=text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    history.record(
        session,
        history.Subject(contact_id),
        "note_added",
        now,
        actor=viewer.actor,
        note_id=note.id,
        task_id=task_id,
    )
    return note


def list_notes(*, session: Session, contact_id: int, limit: int = 50) -> list[NoteRow]:
    """A contact's latest notes, newest first."""
    query = (
        select(Note)
        .where(Note.contact_id == contact_id)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": note.id,
            "contact_id": note.contact_id,
            "task_id": note.task_id,
            "author": note.author,
            "body": note.body,
            "created_at": note.created_at.isoformat(),
        }
        for note in session.scalars(query)
    ]


def delete_note(
    *, session: Session, contact_id: int, note_id: int, now: datetime, viewer: Viewer = OPERATOR
) -> None:
    """Delete a note: its author may, and whoever may delete contacts; `note_deleted` says so."""
    access.require(viewer, "edit contacts")
    note = session.get(Note, note_id)
    if note is None or note.contact_id != contact_id:
        raise NotFound(f"no note {note_id} on contact {contact_id}")
    own = viewer.user_id is not None and note.author_id == viewer.user_id
    if not own and not may(viewer.person, "delete contacts"):
        raise Forbidden(f"{viewer.actor} may delete only their own notes")
    session.delete(note)
    history.record(
        session, history.Subject(contact_id), "note_deleted", now, actor=viewer.actor,
        note_id=note_id,
    )  # fmt: skip
