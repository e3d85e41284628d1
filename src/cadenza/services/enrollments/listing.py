"""Enrollments as every surface lists them: one typed row shared by the CLI, API and UI."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.services import paging
from cadenza.services.times import IsoTime
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import ENROLLMENT_STATUSES, Enrollment, Sequence, SequenceVersion


class EnrollmentRow(TypedDict):
    """An enrollment in a listing (times as ISO 8601 with offset)."""

    id: int
    sequence: str
    contact_id: int
    status: str
    step: str | None
    due_at: IsoTime | None
    outcome: str | None
    exit_reason: str | None
    enrolled_at: IsoTime
    version: Annotated[int, Field(description="The version the enrollment runs on")]


ORDER = paging.Order((Enrollment.id,), (int,))


def list_enrollments(
    *,
    session: Session,
    sequence: str | None = None,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = 1000,
    viewer: Viewer = OPERATOR,
) -> list[EnrollmentRow]:
    """Enrollments as rows: id, sequence, contact_id, status, step, due_at, outcome, exit_reason."""
    return page_enrollments(
        session=session,
        sequence=sequence,
        status=status,
        contact_id=contact_id,
        limit=limit,
        count=False,
        viewer=viewer,
    ).rows


def page_enrollments(
    *,
    session: Session,
    sequence: str | None = None,
    status: str | None = None,
    contact_id: int | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[EnrollmentRow]:
    """A page of enrollments in id order, with the next cursor and the true total."""
    conditions = []
    if sequence is not None:
        conditions.append(Enrollment.sequence_id == paging.sequence_id(session, sequence, viewer))
    if not viewer.sees_everything:
        seen = select(Sequence.id).where(access.visible_sequences(viewer))
        conditions.append(Enrollment.sequence_id.in_(seen))
    if status is not None:
        allowed = paging.one_of("status", status, ENROLLMENT_STATUSES, "a status of enrollments")
        conditions.append(Enrollment.status == allowed)
    if contact_id is not None:
        conditions.append(Enrollment.contact_id == contact_id)
    query = (
        select(*_COLUMNS, Sequence.name, SequenceVersion.number)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .join(SequenceVersion, SequenceVersion.id == Enrollment.version_id)
        .where(*conditions)
    )
    counted = select(Enrollment.id).where(*conditions)
    page = paging.fetch(
        session, query, ORDER, limit=limit, cursor=cursor, count=count, counted=counted
    )
    return paging.mapped(page, _row)


# The columns a row shows, not whole enrollments: loading each as an object (its state and
# all) cost more than the query on every page the API serves.
_COLUMNS = (
    Enrollment.id,
    Enrollment.contact_id,
    Enrollment.status,
    Enrollment.step,
    Enrollment.due_at,
    Enrollment.outcome,
    Enrollment.exit_reason,
    Enrollment.enrolled_at,
)


def _row(found: Row[*tuple[Any, ...]]) -> EnrollmentRow:
    id_, contact_id, status, step, due_at, outcome, exit_reason, enrolled_at = found[:8]
    return {
        "id": id_,
        "sequence": found[8],
        "contact_id": contact_id,
        "status": status,
        "step": step,
        "due_at": due_at.isoformat() if due_at else None,
        "outcome": outcome,
        "exit_reason": exit_reason,
        "enrolled_at": enrolled_at.isoformat(),
        "version": found[9],
    }


def enrollment_counts(*, session: Session, sequence: str) -> dict[str, int]:
    """How many of a sequence's enrollments are in each status."""
    query = (
        select(Enrollment.status, func.count())
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(Sequence.name == sequence)
        .group_by(Enrollment.status)
    )
    return dict(session.execute(query).all())
