"""The outbox as listings show it: messages and what became of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.store.models import Message


def list_messages(
    *,
    session: Session,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Outbox rows: id, key, channel, to, status, step, contact_id (and what was sent)."""
    query = select(Message)
    if status is not None:
        query = query.where(Message.status == status)
    if channel is not None:
        query = query.where(Message.channel == channel)
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
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
            "body": m.body,
            "attempts": m.attempts,
            "error": m.error,
            "provider_id": m.provider_id,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in session.scalars(query)
    ]
