"""Rows for the listing commands and API (enrollments and outbox messages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.store.models import Enrollment, Sequence, SequenceVersion


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


def enrollment_counts(*, session: Session, sequence: str) -> dict[str, int]:
    """How many of a sequence's enrollments are in each status."""
    query = (
        select(Enrollment.status, func.count())
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(Sequence.name == sequence)
        .group_by(Enrollment.status)
    )
    return dict(session.execute(query).all())
