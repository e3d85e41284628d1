"""Senders as managed objects: mailboxes and lines with their caps, and who they belong to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cadenza.core.contact_fields import normalize_email, parse_phone
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services.senders import health
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Sender, SenderUser, User

KINDS = ("email", "sms")
MANAGE = "manage users, groups, senders and keys"
CAPS = ("per_second", "per_hour", "per_day")


def list_senders(
    *, session: Session, now: datetime | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Every sender with its caps, users and (given `now`) health, by kind and address."""
    senders = list(session.scalars(select(Sender).order_by(Sender.kind, Sender.address)))
    assigned: dict[int, list[str]] = {}
    query = (
        select(SenderUser.sender_id, User.email)
        .join(User, User.id == SenderUser.user_id)
        .order_by(User.email)
    )
    for sender_id, email in session.execute(query):
        assigned.setdefault(sender_id, []).append(email)
    return [
        sender_row(s, assigned.get(s.id, []), health_figures(session, s, now) if now else None)
        for s in senders
    ]


def sender_row(
    sender: Sender, users: list[str], figures: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A sender as listings show it; `figures`: its health (mailboxes)."""
    return {
        "id": sender.id,
        "kind": sender.kind,
        "address": sender.address,
        "name": sender.name,
        "per_second": sender.per_second,
        "per_hour": sender.per_hour,
        "per_day": sender.per_day,
        "users": users,
        "provider": sender.provider or "smtp",
        "provider_config": dict(sender.provider_config or {}),
        "dkim_selector": sender.dkim_selector if sender.dkim_key else None,
        "paused": sender.paused_at is not None,
        "paused_at": sender.paused_at.isoformat() if sender.paused_at else None,
        "paused_reason": sender.paused_reason,
        "warmup": dict(sender.warmup or {}) or None,
        "stagger_seconds": sender.stagger_seconds,
        "health": figures,
    }


def health_figures(
    session: Session, sender: Sender, now: datetime, settings: Settings | None = None
) -> dict[str, Any] | None:
    """A mailbox's health over the window (None for a line)."""
    if sender.kind != "email":
        return None
    return health.health_of(session, sender.address, now, settings).as_json()


def add_sender(
    *,
    session: Session,
    kind: str,
    address: str,
    name: str = "",
    caps: dict[str, Any] | None = None,
    default_region: str = "US",
    viewer: Viewer = OPERATOR,
) -> Sender:
    """A new mailbox (an email address) or line (an E.164 number) with positive caps."""
    access.require(viewer, MANAGE)
    if kind not in KINDS:
        raise ValidationFailed(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    address = _address(kind, address, default_region)
    if session.scalar(select(Sender.id).where(Sender.kind == kind, Sender.address == address)):
        raise Conflict(f"{kind} sender {address} already exists")
    sender = Sender(kind=kind, address=address, name=_name(name))
    _set_caps(sender, caps or {})
    session.add(sender)
    session.flush()
    return sender


def change_sender(
    *,
    session: Session,
    sender_id: int,
    name: str | None = None,
    caps: dict[str, Any] | None = None,
    viewer: Viewer = OPERATOR,
) -> Sender:
    """Rename a sender or change its caps (a cap given as None is lifted)."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    if name is not None:
        sender.name = _name(name)
    _set_caps(sender, caps or {})
    session.flush()
    return sender


def remove_sender(*, session: Session, sender_id: int, viewer: Viewer = OPERATOR) -> Sender:
    """Delete a sender row: its address then sends without caps until described again."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    session.delete(sender)
    session.flush()
    return sender


def assign_sender(
    *, session: Session, sender_id: int, emails: list[str], viewer: Viewer = OPERATOR
) -> list[str]:
    """The users a sender is assigned to become exactly these; an unknown one is NotFound."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    found = dict(session.execute(select(User.email, User.id).where(User.email.in_(wanted))).all())
    missing = [email for email in wanted if email not in found]
    if missing:
        raise NotFound(f"no user {', '.join(missing)}")
    session.execute(delete(SenderUser).where(SenderUser.sender_id == sender.id))
    if wanted:
        rows = [{"sender_id": sender.id, "user_id": found[email]} for email in wanted]
        session.execute(insert(SenderUser), rows)
    return sorted(wanted)


def get_sender(*, session: Session, sender_id: int) -> Sender:
    """A sender by id, or NotFound."""
    sender = session.get(Sender, sender_id)
    if sender is None:
        raise NotFound(f"no sender {sender_id}")
    return sender


def assigned_users(*, session: Session, sender_id: int) -> list[str]:
    """The emails of the users a sender is assigned to."""
    query = (
        select(User.email)
        .join(SenderUser, SenderUser.user_id == User.id)
        .where(SenderUser.sender_id == sender_id)
        .order_by(User.email)
    )
    return list(session.scalars(query))


def _address(kind: str, address: str, region: str) -> str:
    try:
        if kind == "email":
            return normalize_email(address.strip())
        return parse_phone(address.strip(), region)[0]
    except ValueError as exc:
        what = "an email address" if kind == "email" else "a phone number (E.164, +13125550100)"
        raise ValidationFailed(f"address {address!r} is not {what}: {exc}") from None


def _name(name: str) -> str:
    name = name.strip()
    if len(name) > 200:
        raise ValidationFailed("a sender's name is limited to 200 characters")
    return name


def _set_caps(sender: Sender, caps: dict[str, Any]) -> None:
    unknown = sorted(set(caps) - set(CAPS))
    if unknown:
        raise ValidationFailed(f"no cap {', '.join(unknown)} (caps: {', '.join(CAPS)})")
    for cap, value in caps.items():
        if value is not None and (isinstance(value, bool) or not 0 < value <= 1_000_000_000):
            raise ValidationFailed(f"{cap} must be a positive number, not {value!r}")
        if value is not None and cap != "per_second" and value != int(value):
            raise ValidationFailed(f"{cap} must be a whole number, not {value!r}")
        setattr(sender, cap, value if value is None or cap == "per_second" else int(value))
