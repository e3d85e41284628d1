"""One contact found by a key (email, phone or external_id), and upserted by it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import normalize_email, parse_phone
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.contacts.editing import update_contact
from cadenza.services.contacts.records import create_contact
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Contact, ContactTag

KEYS = ("email", "phone", "external_id")


def find_contact(*, session: Session, key: str, value: str, region: str) -> Contact | None:
    """The contact whose `key` is `value` (the oldest, for a phone several share)."""
    if key not in KEYS:
        raise ValidationFailed(f"match_on: one of {', '.join(KEYS)}")
    text = value.strip()
    if not text:
        raise ValidationFailed(f"{key}: needed to match on it")
    try:
        if key == "email":
            text = normalize_email(text)
        elif key == "phone":
            text = parse_phone(text, region)[0]
    except ValueError as exc:
        raise ValidationFailed(f"{key}: {exc}") from None
    column = getattr(Contact, key)
    return session.scalar(select(Contact).where(column == text).order_by(Contact.id).limit(1))


def upsert_contact(
    *,
    session: Session,
    data: Mapping[str, Any],
    match_on: str,
    now: datetime,
    settings: Settings,
    viewer: Viewer = OPERATOR,
) -> tuple[Contact, bool]:
    """Update the contact `data[match_on]` names, else create it; (contact, created).

    An update changes the values given (custom fields merge, tags are added), as an
    import does; a creation follows the creation rules.
    """
    access.require(viewer, "edit contacts")
    value = data.get(match_on)
    found = find_contact(
        session=session, key=match_on, value=str(value or ""), region=settings.default_region
    )
    if found is None:
        contact = create_contact(
            session=session, data=data, now=now, settings=settings, actor=viewer.actor
        )
        return contact, True
    changes = {k: v for k, v in data.items() if k not in ("id", "tags") and v is not None}
    tags = data.get("tags")
    if tags:
        have = list(
            session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == found.id))
        )
        given = [t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags)]
        changes["tags"] = have + [t for t in given if t and t not in have]
    update_contact(
        session=session, contact_id=found.id, changes=changes, now=now, settings=settings,
        viewer=viewer,
    )  # fmt: skip
    session.expire(found)  # the changes were written by bulk statements
    return found, False


def require_contact(*, session: Session, key: str, value: str, region: str) -> Contact:
    """`find_contact`, or NotFound."""
    found = find_contact(session=session, key=key, value=value, region=region)
    if found is None:
        raise NotFound(f"no contact with {key} {value}")
    return found
