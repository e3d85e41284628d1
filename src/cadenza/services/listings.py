"""Rows for the listing commands and API (enrollments and outbox messages)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.services.views import chunks
from cadenza.store.models import Contact, Enrollment, Message, Sequence, SequenceVersion


def list_enrollments(
    *,
    session: Session,
    sequence: str | None = None,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Enrollments as rows: id, sequence, contact_id, status, step, due_at, outcome, exit_reason."""
    query = (
        select(Enrollment, Sequence.name, SequenceVersion.number)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .join(SequenceVersion, SequenceVersion.id == Enrollment.version_id)
    )
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
            "version": version,
        }
        for e, name, version in session.execute(query)
    ]


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


def enrollment_counts(*, session: Session, sequence: str) -> dict[str, int]:
    """How many of a sequence's enrollments are in each status."""
    query = (
        select(Enrollment.status, func.count())
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(Sequence.name == sequence)
        .group_by(Enrollment.status)
    )
    return dict(session.execute(query).all())


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
