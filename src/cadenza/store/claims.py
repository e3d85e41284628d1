"""The worker's claim: due enrollments, in due order, locked for this transaction only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from cadenza.store.models import LIVE_STATUSES, Enrollment

CLAIM_COLUMNS = (
    Enrollment.id,
    Enrollment.sequence_id,
    Enrollment.version_id,
    Enrollment.contact_id,
    Enrollment.status,
    Enrollment.step,
    Enrollment.due_at,
    Enrollment.enrolled_at,
    Enrollment.last_step_at,
    Enrollment.outcome,
    Enrollment.exit_reason,
    Enrollment.initiator_id,
    Enrollment.state,
)


# Spelled out literally, as in the index's own WHERE clause: a planner can use a partial index
# only when the query's condition visibly implies the index's, which a bound list does not.
LIVE_ROWS = text("enrollments.status IN (" + ", ".join(f"'{s}'" for s in LIVE_STATUSES) + ")")


def claim_due(session: Session, now: datetime, limit: int) -> Sequence[RowMapping]:
    """Claim up to `limit` due enrollments.

    PostgreSQL: one `FOR UPDATE SKIP LOCKED` statement, so any number of workers share the
    work without waiting on each other. SQLite: the caller's BEGIN IMMEDIATE already made
    this the only writer. Either way the rows stay claimed until the transaction ends, and
    the partial index on live `due_at` keeps the cost proportional to what is due.
    """
    query = (
        select(*CLAIM_COLUMNS)
        .where(LIVE_ROWS, Enrollment.due_at <= now)
        .order_by(Enrollment.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).mappings().all()
