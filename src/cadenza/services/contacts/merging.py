"""Two records of one person made one: the survivor keeps everything of the duplicate.

Enrollments, tasks, notes, messages, calls, history and list memberships move to the
survivor (and its account, when it has none). Where both
are in the same sequence, the survivor's enrollment stays and the duplicate's becomes a
`removed` tombstone of the survivor (its open tasks canceled, its unsent messages
suppressed, a `removed` event saying why), so nobody is sequenced twice and nothing that
happened is lost. Tags and custom fields are the union (the survivor's value wins; its
blanks are filled from the duplicate); flags are OR'ed, through the same path as a person
setting them, so do-not-contact and opt-outs are never lost and their exits apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import FLAGS
from cadenza.core.decisions import HistoryEntry
from cadenza.errors import ValidationFailed
from cadenza.services import history
from cadenza.services.contacts.editing import update_contact
from cadenza.services.contacts.records import get_contact
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import (
    Contact,
    ContactListMember,
    ContactTag,
    DialerEntry,
    Enrollment,
    Event,
    Message,
    Note,
    Task,
    VoiceCall,
)

# Columns whose blank on the survivor the duplicate fills (unique ones after it is gone).
FILLED = (
    "first_name", "last_name", "email", "phone", "timezone", "company", "owner_id",
    "lead_source", "disposition", "external_id", "line", "account_id",
)  # fmt: skip
LATEST = ("last_inbound_at",)
MOVED = (Task, Note, Message, Event, VoiceCall)


@dataclass
class Merged:
    """What a merge did: the removed duplicate enrollments and the values filled in."""

    survivor_id: int
    duplicate_id: int
    removed_enrollments: list[int] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def merge(
    *,
    session: Session,
    survivor_id: int,
    duplicate_id: int,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> Merged:
    """Fold the duplicate into the survivor and delete it; `merged` in history names both."""
    access.require(viewer, "delete contacts")  # the duplicate is deleted
    if survivor_id == duplicate_id:
        raise ValidationFailed("a contact cannot be merged into itself")
    first, second = sorted((survivor_id, duplicate_id))  # one lock order: no deadlocks
    _lock(session, first)
    _lock(session, second)
    survivor = get_contact(session=session, contact_id=survivor_id)
    duplicate = get_contact(session=session, contact_id=duplicate_id)
    done = Merged(survivor_id, duplicate_id)
    done.removed_enrollments = _move_enrollments(session, survivor_id, duplicate_id, now, viewer)
    for model in MOVED:
        column: Any = model.contact_id
        session.execute(update(model).where(column == duplicate_id).values(contact_id=survivor_id))
    _union_rows(session, ContactTag, "tag", survivor_id, duplicate_id)
    _union_rows(session, DialerEntry, "list_name", survivor_id, duplicate_id)
    _union_rows(session, ContactListMember, "list_id", survivor_id, duplicate_id)
    values, done.filled = _filled(survivor, duplicate)
    done.flags = [
        flag for flag in FLAGS if getattr(duplicate, flag) and not getattr(survivor, flag)
    ]
    session.execute(delete(Contact).where(Contact.id == duplicate_id))
    session.flush()
    session.expire(survivor)
    if values:
        session.execute(update(Contact).where(Contact.id == survivor_id).values(values))
        session.expire(survivor)
    history.record(
        session, history.Subject(survivor_id), "merged", now, actor=viewer.actor,
        reason=f"contact {duplicate_id} merged into contact {survivor_id}",
        survivor_id=survivor_id, duplicate_id=duplicate_id,
        removed_enrollments=done.removed_enrollments, filled=done.filled,
    )  # fmt: skip
    if done.flags:  # as a person setting them: the sequences exiting on them exit
        update_contact(
            session=session, contact_id=survivor_id, changes=dict.fromkeys(done.flags, True),
            now=now, settings=settings, viewer=viewer,
        )  # fmt: skip
    return done


def _lock(session: Session, contact_id: int) -> None:
    session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())


def _move_enrollments(
    session: Session, survivor_id: int, duplicate_id: int, now: datetime, viewer: Viewer
) -> list[int]:
    """Move the duplicate's enrollments; those in a sequence the survivor is in are removed."""
    taken = set(
        session.scalars(select(Enrollment.sequence_id).where(Enrollment.contact_id == survivor_id))
    )
    clashing = session.execute(
        select(Enrollment.id, Enrollment.sequence_id, Enrollment.step).where(
            Enrollment.contact_id == duplicate_id, Enrollment.sequence_id.in_(taken)
        )
    ).all()
    removed = [row.id for row in clashing]
    if removed:
        session.execute(
            update(Enrollment)
            .where(Enrollment.id.in_(removed))
            .values(status="removed", due_at=None, updated_at=now,
                    exit_reason=f"merged into contact {survivor_id}, already in this sequence")
        )  # fmt: skip
        session.execute(
            update(Task)
            .where(Task.enrollment_id.in_(removed), Task.status.in_(("open", "error")))
            .values(status="canceled", completed_at=now)
        )
        session.execute(
            update(Message)
            .where(Message.enrollment_id.in_(removed), Message.status.in_(("queued", "held")))
            .values(status="suppressed", error="the contact was merged into another")
        )
    session.execute(
        update(Enrollment)
        .where(Enrollment.contact_id == duplicate_id)
        .values(contact_id=survivor_id)
    )
    history.write(session, [
        history.row(
            history.Subject(survivor_id, row.sequence_id, row.id),
            HistoryEntry(
                "removed", now, row.step,
                f"contact {duplicate_id} merged into {survivor_id}, who is already in this "
                "sequence: this enrollment of the duplicate was removed", {},
            ),
            viewer.actor,
        )
        for row in clashing
    ])  # fmt: skip
    return removed


def _union_rows(
    session: Session,
    model: type[ContactTag] | type[DialerEntry] | type[ContactListMember],
    key: str,
    survivor: int,
    dup: int,
) -> None:
    """The duplicate's rows the survivor lacks, given to the survivor (the rest go with it)."""
    column = getattr(model, key)
    have = set(session.scalars(select(column).where(model.contact_id == survivor)))
    rows = [
        {c.key: getattr(found, c.key) for c in model.__table__.columns} | {"contact_id": survivor}
        for found in session.scalars(select(model).where(model.contact_id == dup))
        if getattr(found, key) not in have
    ]
    if rows:
        session.execute(insert(model), rows)


def _filled(survivor: Contact, duplicate: Contact) -> tuple[dict[str, Any], list[str]]:
    """The survivor's blanks the duplicate fills, the custom fields unioned, the latest times."""
    values: dict[str, Any] = {}
    for name in FILLED:
        mine, theirs = getattr(survivor, name), getattr(duplicate, name)
        if mine in (None, "") and theirs not in (None, ""):
            values[name] = theirs
    mine_fields, theirs_fields = survivor.fields or {}, duplicate.fields or {}
    extra = {k: v for k, v in theirs_fields.items() if mine_fields.get(k) in (None, "") and v != ""}
    filled = list(values) + [f"fields.{k}" for k in extra]
    if extra:
        values["fields"] = {**mine_fields, **extra}
    for name in LATEST:
        mine, theirs = getattr(survivor, name), getattr(duplicate, name)
        if theirs is not None and (mine is None or theirs > mine):
            values[name] = theirs
    if duplicate.last_activity_at is not None and (
        survivor.last_activity_at is None or duplicate.last_activity_at > survivor.last_activity_at
    ):
        values["last_activity_at"] = duplicate.last_activity_at
        values["last_activity_type"] = duplicate.last_activity_type
    if duplicate.last_contacted_at is not None and (
        survivor.last_contacted_at is None
        or duplicate.last_contacted_at > survivor.last_contacted_at
    ):
        values["last_contacted_at"] = duplicate.last_contacted_at
        values["last_contacted_mode"] = duplicate.last_contacted_mode
    return values, filled
