"""A sender's deliverability settings: its provider, DKIM key, warm-up, stagger and pause."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.dkim_signing import dns_record, generate_key, public_of
from cadenza.channels.providers import check_config
from cadenza.core.messages import sender_domain
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.senders import health
from cadenza.services.senders.delivery import MAX_STAGGER
from cadenza.services.senders.managing import MANAGE, get_sender
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Sender

SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def find_sender(*, session: Session, name: str) -> Sender:
    """A sender by id or address (a mailbox's address, a line's number), or NotFound."""
    text = name.strip()
    if text.isdigit() and len(text) < 18:
        return get_sender(session=session, sender_id=int(text))
    found = session.scalars(select(Sender).where(Sender.address == text.lower())).first()
    if found is None:
        raise NotFound(f"no sender {text!r} (see `cadenza senders list`)")
    return found


def set_provider(
    *,
    session: Session,
    sender_id: int,
    provider: str,
    config: dict[str, Any] | None = None,
    viewer: Viewer = OPERATOR,
) -> Sender:
    """Send this mailbox's email through `provider` (smtp, mailgun, sendgrid, ses, postmark)."""
    access.require(viewer, MANAGE)
    sender = _email_sender(session, sender_id)
    sender.provider_config = check_config(provider, config or {})
    sender.provider = provider
    session.flush()
    return sender


def make_dkim(
    *, session: Session, sender_id: int, selector: str = "cadenza", viewer: Viewer = OPERATOR
) -> tuple[str, str]:
    """A new RSA 2048 DKIM key for the mailbox; the DNS TXT record (name, value) to publish."""
    access.require(viewer, MANAGE)
    sender = _email_sender(session, sender_id)
    if not SELECTOR.fullmatch(selector):
        raise ValidationFailed(f"selector {selector!r} must be letters, digits and hyphens")
    domain = sender_domain(sender.address)
    if domain is None:
        raise ValidationFailed(f"sender {sender.address} has no domain")
    key = generate_key()
    sender.dkim_selector, sender.dkim_key = selector, key.private_pem
    session.flush()
    return dns_record(selector, domain, key.public_b64)


def dkim_record(sender: Sender) -> tuple[str, str] | None:
    """The DNS record of a sender's DKIM key, when it has one."""
    domain = sender_domain(sender.address)
    if not sender.dkim_key or not sender.dkim_selector or domain is None:
        return None
    return dns_record(sender.dkim_selector, domain, public_of(sender.dkim_key))


def set_warmup(
    *,
    session: Session,
    sender_id: int,
    start: int | None,
    step: int = 0,
    since: date | None = None,
    every_days: int = 1,
    viewer: Viewer = OPERATOR,
) -> Sender:
    """A ramp: `start` a day from `since`, `step` more every `every_days`; None ends it."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    if start is None:
        sender.warmup = {}
    else:
        for name, value, low in (("start", start, 1), ("step", step, 0), ("every", every_days, 1)):
            if isinstance(value, bool) or not low <= value <= 1_000_000:
                raise ValidationFailed(f"warm-up {name} must be a whole number from {low}")
        when = since or date.today()
        sender.warmup = {
            "start": start, "step": step, "every_days": every_days, "since": when.isoformat()
        }  # fmt: skip
    session.flush()
    return sender


def set_stagger(
    *, session: Session, sender_id: int, seconds: float | None, viewer: Viewer = OPERATOR
) -> Sender:
    """Spread bursts: each email waits up to `seconds` (fixed by its key); None: no wait."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    if seconds is not None and not 0 < seconds <= MAX_STAGGER:
        raise ValidationFailed(f"a stagger is from 0 to {MAX_STAGGER:.0f} seconds")
    sender.stagger_seconds = seconds
    session.flush()
    return sender


def set_paused(
    *,
    session: Session,
    sender_id: int,
    paused: bool,
    now: datetime,
    reason: str = "",
    viewer: Viewer = OPERATOR,
) -> Sender:
    """Pause a sender by hand (with the reason), or resume one, in history with who did it."""
    access.require(viewer, MANAGE)
    sender = get_sender(session=session, sender_id=sender_id)
    actor = viewer.actor
    if paused and sender.paused_at is None:
        health.pause(session, sender, reason.strip()[:500] or "by hand", now, actor=actor)
    elif not paused:
        health.resume(session, sender, now, actor=actor)
    return sender


def _email_sender(session: Session, sender_id: int) -> Sender:
    sender = get_sender(session=session, sender_id=sender_id)
    if sender.kind != "email":
        raise ValidationFailed(f"sender {sender.address} is a line: providers are for mailboxes")
    return sender
