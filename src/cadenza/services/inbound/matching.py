"""What the inbound services share: their result, and finding whom an inbound thing is about.

Matching an email to what we sent goes through the contact: the sender (or the bounced
recipient) is looked up by the unique email index, then that contact's emails by the
(contact_id, created_at) index, newest first, and their Message-IDs compared in Python.
Two index look-ups and a few rows per inbound email, however many messages the outbox holds,
and the same query on SQLite and PostgreSQL (no JSON path look-up, no extra column).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.forwarded import Forwarded
from cadenza.core.contact_fields import parse_phone
from cadenza.services import history
from cadenza.services.events.recording import record_event
from cadenza.settings import Settings
from cadenza.store.models import Contact, Message

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)
D = TypeVar("D", bound="DataclassInstance")

ACTOR = "inbound"
EXCERPT = 500
# Emails of one contact compared against a reply's Message-IDs: a contact a sequence wrote
# more often than this is answering one of the recent ones anyway.
SCAN_LIMIT = 500
THREAD_IDS = 50  # Message-IDs of a thread looked up at once: a References header can be long


@dataclass(frozen=True)
class InboundResult:
    """What an inbound email, text, link or callback became."""

    outcome: str
    contact_id: int | None = None
    enrollment_id: int | None = None
    message_key: str | None = None
    step: str | None = None
    detail: str = ""
    # Text to answer the sender with right away (SMS HELP answered inline by TwiML).
    reply: str | None = None

    def describe(self) -> str:
        """One line for logs: the outcome, whom it concerns and why."""
        parts = [self.outcome]
        if self.contact_id is not None:
            parts.append(f"contact {self.contact_id}")
        if self.message_key:
            parts.append(f"message {self.message_key}")
        if self.step:
            parts.append(f"step {self.step}")
        if self.detail:
            parts.append(self.detail)
        return " - ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The result as the API answers it."""
        return asdict(self)


def clean_text(text: str) -> str:
    """Inbound text without NUL characters: they mean nothing, and no PostgreSQL text holds one."""
    return text.replace("\x00", "")


def cleaned(item: D) -> D:
    """A parsed inbound thing with NULs removed from its strings (and lists and dicts of them)."""
    changes = {f.name: _cleaned(getattr(item, f.name)) for f in dataclasses.fields(item)}
    return dataclasses.replace(item, **changes)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {_cleaned(key): _cleaned(item) for key, item in value.items()}
    return value


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    """`text` on one line, cut to `limit` characters (history keeps excerpts, not bodies)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def contact_by_email(session: Session, address: str | None) -> Contact | None:
    """The contact with this email address (addresses are stored lowercased)."""
    if not address:
        return None
    return session.scalar(select(Contact).where(Contact.email == address.strip().lower()))


def e164(number: str, region: str) -> str:
    """The number in E.164 as contacts store it; as given when it cannot be read."""
    try:
        return parse_phone(number.strip(), region)[0]
    except ValueError:
        return number.strip()


def contacts_by_phone(session: Session, number: str) -> list[int]:
    """Ids of the contacts with this E.164 number, oldest first (a number may be shared)."""
    query = select(Contact.id).where(Contact.phone == number).order_by(Contact.id)
    return list(session.scalars(query))


def sent_email(session: Session, contact_id: int, thread_ids: list[str]) -> Message | None:
    """The email we sent this contact that one of `thread_ids` names, most specific first."""
    if not thread_ids:
        return None
    rows = session.scalars(
        select(Message)
        .where(Message.contact_id == contact_id, Message.channel == "email")
        .order_by(Message.created_at.desc())
        .limit(SCAN_LIMIT)
    )
    # Notifications are about the contact but went to a user: never the contact's thread.
    by_id = {str(m.meta.get("message_id", "")).lower(): m for m in rows if not m.meta.get("notify")}
    return next((by_id[i.lower()] for i in thread_ids if i.lower() in by_id), None)


def thread_message(session: Session, thread_ids: list[str]) -> Message | None:
    """The email we sent that one of `thread_ids` names, whoever it went to (most specific
    first): a reply in its thread is about that email's contact, whoever writes it."""
    wanted = [i.lower() for i in thread_ids[:THREAD_IDS]]
    if not wanted:
        return None
    rows = session.scalars(
        select(Message).where(Message.message_id.in_(wanted), Message.channel == "email")
    )
    by_id = {str(m.message_id): m for m in rows if not m.meta.get("notify")}
    return next((by_id[i] for i in wanted if i in by_id), None)


def forwarded_message(session: Session, forwarded: Forwarded) -> Message | None:
    """The email of ours a forward quotes: by its Message-ID, else by its sender (one of our
    mailboxes) and its recipient (a contact we wrote to from that mailbox)."""
    if forwarded.message_id:
        found = thread_message(session, [forwarded.message_id])
        if found is not None:
            return found
    if not forwarded.from_address:
        return None
    for address in forwarded.to_addresses[:THREAD_IDS]:
        contact = contact_by_email(session, address)
        if contact is None:
            continue
        rows = session.scalars(
            select(Message)
            .where(Message.contact_id == contact.id, Message.channel == "email")
            .order_by(Message.created_at.desc())
            .limit(SCAN_LIMIT)
        )
        for message in rows:
            if parseaddr(message.sender or "")[1].lower() == forwarded.from_address:
                return message
    return None


def message_by_key(session: Session, key: str) -> Message | None:
    """The outbox message with this idempotency key."""
    return session.scalar(select(Message).where(Message.key == key))


def apply_event(
    session: Session,
    contact_id: int,
    name: str,
    now: datetime,
    settings: Settings,
    message: Message | None = None,
    **data: Any,
) -> InboundResult:
    """Record event `name` for the contact, about `message` when known, and apply it."""
    about: dict[str, Any] = {}
    if message is not None:
        about = {
            "step": message.step,
            "message_key": message.key,
            "enrollment_id": message.enrollment_id,
        }
        # Who sent it and which A/B variant it was: what the reports count it under.
        extra = {"sender": message.sender, "variant": (message.meta or {}).get("variant")}
        about.update({k: v for k, v in extra.items() if v})
    payload = {**about, **{k: v for k, v in data.items() if v is not None}}
    record_event(
        session=session,
        contact_id=contact_id,
        name=name,
        data=payload,
        now=now,
        settings=settings,
        actor=ACTOR,
    )
    return InboundResult(
        name,
        contact_id=contact_id,
        enrollment_id=about.get("enrollment_id"),
        message_key=about.get("message_key"),
        step=about.get("step"),
    )


def record_unmatched(
    session: Session, now: datetime, channel: str, reason: str, **data: Any
) -> InboundResult:
    """Keep what could not be matched in history (for a person to look at), never fail."""
    history.record(
        session,
        history.Subject(None),
        "inbound_unmatched",
        now,
        reason=reason,
        actor=ACTOR,
        channel=channel,
        **{k: v for k, v in data.items() if v is not None},
    )
    return InboundResult("unmatched", detail=reason)


def record_history(
    session: Session,
    type_: str,
    now: datetime,
    contact_id: int | None,
    message: Message | None = None,
    reason: str | None = None,
    **data: Any,
) -> None:
    """A history-only event (soft bounce, HELP, receipt): it moves no sequence."""
    subject = history.Subject(
        contact_id,
        message.sequence_id if message is not None else None,
        message.enrollment_id if message is not None else None,
    )
    history.record(
        session,
        subject,
        type_,
        now,
        step=message.step if message is not None else None,
        reason=reason,
        actor=ACTOR,
        **({"message_key": message.key} if message is not None else {}),
        **{k: v for k, v in data.items() if v is not None},
    )
