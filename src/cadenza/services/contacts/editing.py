"""A person changes a contact: fields, tags and flags, each change in history with who and when.

Every value is checked as an import checks it (an email, a phone in E.164, an IANA zone, a
known owner); a bad one is refused with its reason and nothing is changed. The changes go
through the same path as the events a step or a provider reports, so a tag a person adds
sets off the sequences triggered by it, and a flag a person sets exits the sequences that
exit on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import (
    FLAGS,
    TAG_LIMIT,
    TEXT_LIMITS,
    normalize_email,
    normalize_timezone,
    parse_flag,
    parse_phone,
    parse_tags,
)
from cadenza.core.events import EventRecord
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import history
from cadenza.services.contacts.fields import checked_fields, field_types
from cadenza.services.contacts.records import get_contact
from cadenza.services.events import changes as contact_changes
from cadenza.services.events.recording import Arrival, Incoming, record_arrivals, record_events
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Contact, ContactTag, User

EDITABLE = (
    "first_name", "last_name", "email", "phone", "timezone", "company", "lead_source",
    "external_id",
)  # fmt: skip
# Written here rather than by the contact-change path (not a field a step sets).
OWN_COLUMNS = ("external_id",)
# Setting a flag is the event that sets it (a sequence exiting on it exits); clearing one
# is `sms_opted_in` for texts, `dnc_changed` for do-not-contact, and a field change for the
# email flags (QUIET_FLAGS: no event of their own).
SET_FLAG = {
    "dnc": "dnc",
    "sms_opted_out": "sms_opted_out",
    "email_unsubscribed": "unsubscribed",
    "email_bounced": "bounced",
}
QUIET_FLAGS = ("email_unsubscribed", "email_bounced")


def update_contact(
    *,
    session: Session,
    contact_id: int,
    changes: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> list[str]:
    """Apply a person's changes to a contact; what changed, as field names.

    `changes`: built-in fields, `disposition`, `owner` (a user's email), `fields` (custom
    fields, None removes one), `tags` (the full list), and the four flags as booleans."""
    access.require(viewer, "edit contacts")
    contact = get_contact(session=session, contact_id=contact_id)
    wanted = _checked(session, contact, changes, settings.default_region)
    if not wanted:
        return []
    incoming = [
        Incoming(contact_id, SET_FLAG[flag] if value else "sms_opted_in")
        for flag, value in wanted.flags.items()
        if value or flag == "sms_opted_out"
    ]
    cleared = [flag for flag, value in wanted.flags.items() if not value and flag in QUIET_FLAGS]
    own = {name: wanted.values.pop(name) for name in OWN_COLUMNS if name in wanted.values}
    if own:
        values = {**own, "updated_at": now}
        session.execute(update(Contact).where(Contact.id == contact_id).values(values))
        session.expire(contact)
    steps = _changes(contact_id, wanted, cleared)
    applied = contact_changes.apply(session, steps, now) if steps else []
    arrivals = [
        Arrival(contact_id, record, viewer.actor, contact=done.contact)
        for done in applied
        for record in done.records
    ]
    for flag in cleared:
        record = EventRecord("field_changed", now, data={"field": flag, "value": False})
        arrivals.append(Arrival(contact_id, record, viewer.actor))
    for name, value in own.items():
        record = EventRecord("field_changed", now, data={"field": name, "value": value})
        arrivals.append(Arrival(contact_id, record, viewer.actor))
    record_arrivals(session, arrivals, settings)
    if incoming:
        record_events(
            session=session, events=incoming, now=now, settings=settings, actor=viewer.actor
        )
    return [*wanted.names(), *own]


class _Wanted:
    """The checked changes: column values, custom fields, tags, owner and flags."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.fields: dict[str, Any] = {}
        self.tags: tuple[set[str], set[str]] | None = None  # added, removed
        self.owner: str | None = None
        self.flags: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.values or self.fields or self.tags or self.owner or self.flags)

    def names(self) -> list[str]:
        tags = ["tags"] if self.tags else []
        owner = ["owner"] if self.owner else []
        custom = [f"fields.{name}" for name in self.fields]
        return [*self.values, *custom, *tags, *owner, *self.flags]


def _checked(
    session: Session, contact: Contact, changes: Mapping[str, Any], region: str
) -> _Wanted:
    wanted, problems = _Wanted(), []
    for name, value in changes.items():
        try:
            _check_one(session, contact, wanted, name, value, region)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise ValidationFailed("; ".join(problems))
    email = wanted.values.get("email", contact.email)
    phone = wanted.values.get("phone", contact.phone)
    if not email and not phone:
        raise ValidationFailed("a contact keeps an email or a phone")
    if wanted.values.get("email"):
        other = session.scalar(
            select(Contact.id).where(Contact.email == email, Contact.id != contact.id)
        )
        if other is not None:
            raise Conflict(f"contact {other} already has email {email}")
    if external := wanted.values.get("external_id"):
        other = session.scalar(
            select(Contact.id).where(Contact.external_id == external, Contact.id != contact.id)
        )
        if other is not None:
            raise Conflict(f"contact {other} already has external_id {external}")
    return wanted


def _check_one(
    session: Session, contact: Contact, wanted: _Wanted, name: str, value: Any, region: str
) -> None:
    text = "" if value is None else str(value).strip()
    if name in EDITABLE or name == "disposition":
        cleaned = _value(name, text, region)
        if cleaned != getattr(contact, name):
            wanted.values[name] = cleaned
    elif name == "owner":
        _owner(session, contact, wanted, text)
    elif name == "tags":
        _tags(session, contact, wanted, value)
    elif name == "fields":
        _fields(session, contact, wanted, value)
    elif name in FLAGS:
        flag = value if isinstance(value, bool) else parse_flag(text)
        if flag != getattr(contact, name):
            wanted.flags[name] = flag
    else:
        raise ValueError("not a field a person can change")


def _value(name: str, text: str, region: str) -> str | None:
    """The stored value of a built-in field (None: cleared; names are cleared to '')."""
    if not text:
        return "" if name in ("first_name", "last_name") else None
    if name == "email":
        return normalize_email(text)
    if name == "phone":
        return parse_phone(text, region)[0]
    if name == "timezone":
        return normalize_timezone(text)
    if len(text) > TEXT_LIMITS[name]:
        raise ValueError(f"longer than {TEXT_LIMITS[name]} characters")
    return text


def _owner(session: Session, contact: Contact, wanted: _Wanted, text: str) -> None:
    if not text:
        raise ValueError("give a user's email (an owner cannot be removed here)")
    user_id = session.scalar(select(User.id).where(User.email == text.lower()))
    if user_id is None:
        raise ValueError(f"no user {text!r}")
    if user_id != contact.owner_id:
        wanted.owner = text.lower()


def _tags(session: Session, contact: Contact, wanted: _Wanted, value: Any) -> None:
    given = parse_tags(value) if isinstance(value, str) else [str(t).strip() for t in value or ()]
    for tag in given:
        if len(tag) > TAG_LIMIT:
            raise ValueError(f"tag {tag!r} is longer than {TAG_LIMIT} characters")
    have = set(session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact.id)))
    new = {tag for tag in given if tag}
    if new != have:
        wanted.tags = (new - have, have - new)


def _fields(session: Session, contact: Contact, wanted: _Wanted, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ValueError("must be an object of custom fields")
    current = contact.fields or {}
    for key in value:
        if not str(key).strip() or len(str(key)) > 100:
            raise ValueError(f"field name {key!r} must be 1 to 100 characters")
    types = field_types(session=session)
    checked, wrong = checked_fields(types, {str(k): v for k, v in value.items()})
    if wrong:
        raise ValueError("; ".join(f"{name}: {why}" for name, why in wrong))
    for key, item in checked.items():
        if current.get(key) != item:
            wanted.fields[key] = item


def _changes(contact_id: int, wanted: _Wanted, cleared: list[str]) -> list[contact_changes.Change]:
    change = contact_changes.Change
    steps = [
        change(contact_id, "set_field", {"field": name, "value": value})
        for name, value in [*wanted.values.items(), *wanted.fields.items()]
    ]
    if wanted.owner:
        steps.append(change(contact_id, "set_owner", {"owner": f"user:{wanted.owner}"}))
    if wanted.tags:
        added, removed = wanted.tags
        steps += [change(contact_id, "add_tag", {"tag": t}) for t in sorted(added)]
        steps += [change(contact_id, "remove_tag", {"tag": t}) for t in sorted(removed)]
    if wanted.flags.get("dnc") is False:
        steps.append(change(contact_id, "set_dnc", {"dnc": False}))
    steps += [change(contact_id, "set_flag", {"flag": f, "value": False}) for f in cleared]
    return steps


def delete_contact(
    *, session: Session, contact_id: int, now: datetime, viewer: Viewer = OPERATOR
) -> None:
    """Delete a contact with its enrollments, tasks, tags and notes; history keeps who did it."""
    access.require(viewer, "delete contacts")
    contact = get_contact(session=session, contact_id=contact_id)
    email, phone = contact.email, contact.phone
    session.execute(delete(Contact).where(Contact.id == contact_id))
    history.record(
        session,
        history.Subject(contact_id),
        "contact_deleted",
        now,
        actor=viewer.actor,
        email=email,
        phone=phone,
    )
