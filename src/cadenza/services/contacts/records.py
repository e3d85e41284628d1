"""Contacts: queries (listing rows, the domain's view) and single creation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.contact import ContactView
from cadenza.core.contact_fields import TAG_LIMIT, Draft, clean
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services.contacts.fields import checked_fields, field_types
from cadenza.services.contacts.listing import rows as _rows  # one shape, however read
from cadenza.services.times import IsoTime
from cadenza.settings import Settings
from cadenza.store.bulk import chunks
from cadenza.store.models import Contact, ContactTag, User


class ContactRow(TypedDict):
    """A contact in a listing: the shape `simulate --contact` and ContactView accept."""

    id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    timezone: str | None
    company: str | None
    owner: Annotated[str | None, Field(description="The owner's email")]
    lead_source: str | None
    disposition: str | None
    tags: list[str]
    fields: dict[str, Any]
    dnc: bool
    sms_opted_out: bool
    email_unsubscribed: bool
    email_bounced: bool
    external_id: Annotated[str | None, Field(description="The contact's id in another system")]
    last_contacted_at: Annotated[IsoTime | None, Field(description="Computed from history")]
    last_contacted_mode: Annotated[str, Field(description="not_contacted, no_reply, replied…")]
    last_activity_type: Annotated[str | None, Field(description="email_sent, call, replied…")]
    last_activity_at: Annotated[IsoTime | None, Field(description="Computed from history")]


def get_contact(*, session: Session, contact_id: int) -> Contact:
    """The contact with this id, or NotFound."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


def contact_row(*, session: Session, contact_id: int) -> ContactRow:
    """One contact as a listing row (the shape ContactView and `simulate --contact` accept)."""
    return _rows(session, [get_contact(session=session, contact_id=contact_id)])[0]


def load_view(*, session: Session, contact_id: int) -> ContactView:
    """One contact as the domain sees it."""
    return ContactView.model_validate(contact_row(session=session, contact_id=contact_id))


def list_contacts(
    *,
    session: Session,
    tag: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ContactRow]:
    """Contacts in id order as listing rows, optionally with a tag or matching a search."""
    query = select(Contact).order_by(Contact.id).offset(offset).limit(limit)
    if tag is not None:
        query = query.where(
            Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag == tag))
        )
    if search:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
        columns = (
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.phone,
            Contact.company,
        )
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    return _rows(session, list(session.scalars(query)))


def create_contact(
    *,
    session: Session,
    data: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> Contact:
    """Create one contact with the import's rules; ValidationFailed lists every problem.

    `tags` may be a list or a separated string, `fields` a dict (values kept as given), flags
    booleans or yes/no text. A contact with the same email (else phone) is a Conflict.
    The new contact is announced: `contact_created` is recorded and its triggers fire.
    """
    draft = _checked_draft(session, data, settings.default_region)
    _refuse_duplicate(session, draft)
    values = {"timezone": draft.zone_guess} | draft.values  # a given zone beats a guessed one
    contact = Contact(**values, fields=draft.fields, created_at=now, updated_at=now)
    session.add(contact)
    session.flush()
    session.add_all(ContactTag(contact_id=contact.id, tag=tag) for tag in draft.tags)
    session.flush()
    from cadenza.services.events import contacts_created  # applying events pulls in the engine

    contacts_created(
        session=session, contact_ids=[contact.id], now=now, settings=settings, actor=actor
    )
    return contact


def _checked_draft(session: Session, data: Mapping[str, Any], region: str) -> Draft:
    tags = data.get("tags")
    listed = tags is not None and not isinstance(tags, str)
    skip = {"id", "fields", "tags"} if listed else {"id", "fields"}
    raw = {name: _as_text(value) for name, value in data.items() if name not in skip}
    owner = raw.get("owner", "").strip().lower()
    user_id = session.scalar(select(User.id).where(User.email == owner)) if owner else None
    draft, problems = clean(raw, region=region, owners={owner: user_id} if user_id else {})
    for tag in (str(tag).strip() for tag in tags or ()) if listed else ():
        if len(tag) > TAG_LIMIT:
            problems.append(("tags", f"tag {tag!r} is longer than {TAG_LIMIT} characters"))
        elif tag and tag not in draft.tags:
            draft.tags.append(tag)
    fields = data.get("fields") or {}
    if isinstance(fields, Mapping):
        draft.fields.update(fields)
    else:
        problems.append(("fields", "must be an object of custom fields"))
    if draft.fields:
        draft.fields, wrong = checked_fields(field_types(session=session), draft.fields)
        draft.fields = {name: value for name, value in draft.fields.items() if value is not None}
        problems += wrong
    if problems:
        raise ValidationFailed("; ".join(f"{k}: {why}" if k else why for k, why in problems))
    return draft


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _refuse_duplicate(session: Session, draft: Draft) -> None:
    """Same email, else same phone (with no other email): the import would merge, so refuse."""
    if external := draft.values.get("external_id"):
        found = session.scalar(select(Contact.id).where(Contact.external_id == external))
        if found is not None:
            raise Conflict(f"contact {found} already has external_id {external}")
    if draft.email is not None:
        found = session.scalar(select(Contact.id).where(Contact.email == draft.email))
        if found is not None:
            raise Conflict(f"contact {found} already has email {draft.email}")
    if draft.phone is not None:
        query = select(Contact.id).where(Contact.phone == draft.phone)
        if draft.email is not None:
            query = query.where(Contact.email.is_(None))
        found = session.scalar(query.order_by(Contact.id).limit(1))
        if found is not None:
            raise Conflict(f"contact {found} already has phone {draft.phone}")


def contact_names(*, session: Session, contact_ids: Iterable[int]) -> dict[int, str]:
    """What listings call each contact: the full name, else the email, else the phone."""
    names: dict[int, str] = {}
    columns = (Contact.id, Contact.first_name, Contact.last_name, Contact.email, Contact.phone)
    for batch in chunks(set(contact_ids)):
        for cid, first, last, email, phone in session.execute(
            select(*columns).where(Contact.id.in_(batch))
        ):
            names[cid] = f"{first} {last}".strip() or email or phone or f"contact {cid}"
    return names
