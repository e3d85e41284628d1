"""Rows for the listing commands and API (enrollments and outbox messages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.store.models import Enrollment, Message, Sequence


def list_enrollments(
    *,
    session: Session,
    sequence: str | None = None,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Enrollments as rows: id, sequence, contact_id, status, step, due_at, outcome, exit_reason."""
    query = select(Enrollment, Sequence.name).join(Sequence, Sequence.id == Enrollment.sequence_id)
    if sequence is not None:
        query = query.where(Sequence.name == sequence)
    if status is not None:
        query = query.where(Enrollment.status == status)
    if contact_id is not None:
        query = query.where(Enrollment.contact_id == contact_id)
    query = query.order_by(Enrollment.id).limit(limit)
    return [
        {
            "id": e.id,
            "sequence": name,
            "contact_id": e.contact_id,
            "status": e.status,
            "step": e.step,
            "due_at": e.due_at.isoformat() if e.due_at else None,
            "outcome": e.outcome,
            "exit_reason": e.exit_reason,
            "enrolled_at": e.enrolled_at.isoformat(),
            "version": e.version_id,
        }
        for e, name in session.execute(query)
    ]


def list_messages(
    *,
    session: Session,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Outbox rows: id, key, channel, to, status, step, contact_id (and what was sent)."""
    query = select(Message)
    if status is not None:
        query = query.where(Message.status == status)
    if channel is not None:
        query = query.where(Message.channel == channel)
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
    query = query.order_by(Message.id).limit(limit)
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
