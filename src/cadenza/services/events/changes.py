"""Changes to a contact (by a step or a person) and the events they emit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cadenza.core.events import EventRecord
from cadenza.errors import NotFound, ValidationFailed
from cadenza.store.models import Contact, ContactTag, DialerEntry, User

BUILTIN_FIELDS = {
    "first_name",
    "last_name",
    "email",
    "phone",
    "timezone",
    "company",
    "lead_source",
    "disposition",
}


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def add_tag(session: Session, contact_id: int, tag: str, now: datetime) -> list[EventRecord]:
    stmt = _insert(session)(ContactTag).values(contact_id=contact_id, tag=tag)
    result = session.execute(stmt.on_conflict_do_nothing())
    return [EventRecord("tag_added", now, data={"tag": tag})] if result.rowcount else []  # type: ignore[attr-defined]


def remove_tag(session: Session, contact_id: int, tag: str, now: datetime) -> list[EventRecord]:
    result = session.execute(
        delete(ContactTag).where(ContactTag.contact_id == contact_id, ContactTag.tag == tag)
    )
    return [EventRecord("tag_removed", now, data={"tag": tag})] if result.rowcount else []  # type: ignore[attr-defined]


def set_disposition(
    session: Session,
    contact_id: int,
    value: str | None,
    now: datetime,
) -> list[EventRecord]:
    contact = _contact(session, contact_id)
    before = contact.disposition
    if before == value:
        return []
    contact.disposition, contact.updated_at = value, now
    return [EventRecord("disposition_changed", now, data={"from": before, "to": value})]


def set_field(
    session: Session,
    contact_id: int,
    name: str,
    value: Any,
    now: datetime,
) -> list[EventRecord]:
    contact = _contact(session, contact_id)
    if name in BUILTIN_FIELDS:
        if name == "disposition":
            return set_disposition(session, contact_id, value, now)
        setattr(contact, name, value)
    else:
        contact.fields = {**(contact.fields or {}), name: value}
    contact.updated_at = now
    return [EventRecord("field_changed", now, data={"field": name, "value": value})]


def set_dnc(session: Session, contact_id: int, value: bool, now: datetime) -> list[EventRecord]:
    contact = _contact(session, contact_id)
    if contact.dnc == value:
        return []
    contact.dnc, contact.updated_at = value, now
    return [EventRecord("dnc_changed", now, data={"dnc": value})]


def set_owner(session: Session, contact_id: int, rule: str, now: datetime) -> list[EventRecord]:
    from cadenza.services.users.people import next_round_robin

    kind, _, name = rule.partition(":")
    if kind == "round_robin":
        user = next_round_robin(session=session, group_name=name)
    else:
        found = session.execute(select(User).where(User.email == name)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no user {name}")
        user = found
    contact = _contact(session, contact_id)
    contact.owner_id, contact.updated_at = user.id, now
    return [EventRecord("owner_changed", now, data={"owner": user.email})]


def dialer(
    session: Session,
    contact_id: int,
    list_name: str,
    add: bool,
    now: datetime,
) -> list[EventRecord]:
    if add:
        stmt = _insert(session)(DialerEntry).values(
            contact_id=contact_id, list_name=list_name, added_at=now
        )
        session.execute(stmt.on_conflict_do_nothing())
    else:
        session.execute(
            delete(DialerEntry).where(
                DialerEntry.contact_id == contact_id, DialerEntry.list_name == list_name
            )
        )
    name = "dialer_added" if add else "dialer_removed"
    return [EventRecord(name, now, data={"list": list_name})]


def set_flag(session: Session, contact_id: int, flag: str, value: bool, now: datetime) -> None:
    """Set a compliance flag (sms_opted_out, email_unsubscribed, email_bounced, dnc)."""
    session.execute(
        update(Contact).where(Contact.id == contact_id).values({flag: value, "updated_at": now})
    )


def touch_inbound(session: Session, contact_id: int, now: datetime) -> None:
    """Remember the contact wrote to us (for `skip_if_communicating`)."""
    session.execute(update(Contact).where(Contact.id == contact_id).values(last_inbound_at=now))


def apply_step_change(
    session: Session, contact_id: int, action: str, params: dict[str, Any], now: datetime
) -> list[EventRecord]:
    """Apply a contact-change step's action; enroll/unenroll are the caller's."""
    if action == "add_tag":
        return add_tag(session, contact_id, str(params["tag"]), now)
    if action == "remove_tag":
        return remove_tag(session, contact_id, str(params["tag"]), now)
    if action == "set_disposition":
        return set_disposition(session, contact_id, str(params["disposition"]), now)
    if action == "set_field":
        return set_field(session, contact_id, str(params["field"]), params.get("value"), now)
    if action == "set_owner":
        return set_owner(session, contact_id, str(params["owner"]), now)
    if action == "mark_dnc":
        return set_dnc(session, contact_id, True, now)
    if action in ("add_to_dialer", "remove_from_dialer"):
        return dialer(session, contact_id, str(params["list"]), action == "add_to_dialer", now)
    raise ValidationFailed(f"not a contact change: {action}")


def _contact(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact
