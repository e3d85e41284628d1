"""The outbox as listings show it: messages and what became of them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.services.outbox.meta import MessageMeta
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.bulk import known_status
from cadenza.store.models import MESSAGE_STATUSES, Message

MessageRow = TypedDict(  # functional: one of its keys is `from`
    "MessageRow",
    {
        "id": int,
        "key": Annotated[str, Field(description="Idempotency key enrollment:step:visit")],
        "channel": str,
        "to": str,
        "from": str | None,
        "status": str,
        "step": str | None,
        "contact_id": int | None,
        "enrollment_id": int | None,
        "subject": str | None,
        "body": str,
        "attempts": int,
        "error": str | None,
        "provider_id": str | None,
        "created_at": IsoTime,
        "sent_at": IsoTime | None,
    },
)

# A system email's body holds a single-use sign-in link: anyone reading it could use it.
HIDDEN = "(Cadenza's own email with a sign-in link: not shown)"


def list_messages(
    *,
    session: Session,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
    newest_first: bool = False,
    viewer: Viewer = OPERATOR,
) -> list[MessageRow]:
    """Outbox rows: id, key, channel, to, status, step, contact_id (and what was sent)."""
    query = select(Message)
    if known_status(status, MESSAGE_STATUSES, "messages") is not None:
        query = query.where(Message.status == status)
    if channel is not None:
        query = query.where(Message.channel == channel)
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
    seen = access.row_visible(Message.sequence_id, viewer)
    if seen is not None:
        query = query.where(seen)
    query = query.order_by(Message.id.desc() if newest_first else Message.id).limit(limit)
    return [
        {
            "id": m.id,
            "key": m.key,
            "channel": m.channel,
            "to": m.recipient,
            "from": m.sender,
            "status": m.status,
            "step": m.step,
            "contact_id": m.contact_id,
            "enrollment_id": m.enrollment_id,
            "subject": m.subject,
            "body": HIDDEN if MessageMeta.read(m.meta).system else m.body,
            "attempts": m.attempts,
            "error": m.error,
            "provider_id": m.provider_id,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in session.scalars(query)
    ]
