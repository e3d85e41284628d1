"""The outbox as listings show it: messages and what became of them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.services import paging
from cadenza.services.outbox.meta import MessageMeta
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
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


ORDER = paging.Order((Message.id,), (int,))
NEWEST_FIRST = paging.Order((Message.id,), (int,), descending=True)
CHANNELS = ("email", "sms", "mms", "voicemail", "webhook")


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
    return page_messages(
        session=session,
        status=status,
        channel=channel,
        contact_id=contact_id,
        limit=limit,
        newest_first=newest_first,
        count=False,
        viewer=viewer,
    ).rows


def page_messages(
    *,
    session: Session,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    newest_first: bool = False,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[MessageRow]:
    """A page of the outbox in id order, with the next cursor and the true total."""
    query = select(Message)
    if status is not None:
        query = query.where(
            Message.status
            == paging.one_of("status", status, MESSAGE_STATUSES, "a status of messages")
        )
    if channel is not None:
        query = query.where(Message.channel == paging.one_of("channel", channel, CHANNELS))
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
    seen = access.row_visible(Message.sequence_id, viewer)
    if seen is not None:
        query = query.where(seen)
    order = NEWEST_FIRST if newest_first else ORDER
    page = paging.fetch(session, query, order, limit=limit, cursor=cursor, count=count)
    return paging.mapped(page, _row)


def _row(found: Row[*tuple[Any, ...]]) -> MessageRow:
    m: Message = found[0]
    return {
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
