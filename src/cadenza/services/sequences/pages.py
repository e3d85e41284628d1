"""Sequences as the API and the CLI page through them: by name, with their latest version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.services import paging
from cadenza.services.sequences.listing import ENROLLED_STATUSES, SequenceRow, _row
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import SEQUENCE_STATUSES, Enrollment, Sequence, SequenceVersion, User

ORDER = paging.Order((Sequence.name,), (str,))


def page_sequences(
    *,
    session: Session,
    status: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[SequenceRow]:
    """A page of the sequences the viewer sees, by name, with the next cursor and the total."""
    latest = (
        select(SequenceVersion.sequence_id, func.max(SequenceVersion.number).label("number"))
        .group_by(SequenceVersion.sequence_id)
        .subquery()
    )
    query = (
        select(Sequence, SequenceVersion, User.email)
        .join(latest, latest.c.sequence_id == Sequence.id)
        .join(
            SequenceVersion,
            (SequenceVersion.sequence_id == Sequence.id)
            & (SequenceVersion.number == latest.c.number),
        )
        .outerjoin(User, User.id == Sequence.owner_id)
        .where(access.visible_sequences(viewer))
    )
    if status is not None:
        query = query.where(
            Sequence.status
            == paging.one_of("status", status, SEQUENCE_STATUSES, "a status of sequences")
        )
    page = paging.fetch(session, query, ORDER, limit=limit, cursor=cursor, count=count)
    enrolled = _enrolled(session, [row[0].id for row in page.rows])
    rows = [
        _row(seq, version, owner, enrolled.get(seq.id, 0)) for seq, version, owner, *_ in page.rows
    ]
    return paging.Page(rows, page.next, page.total)


def _enrolled(session: Session, sequence_ids: list[int]) -> dict[int, int]:
    query = (
        select(Enrollment.sequence_id, func.count())
        .where(Enrollment.sequence_id.in_(sequence_ids))
        .where(Enrollment.status.in_(ENROLLED_STATUSES))
        .group_by(Enrollment.sequence_id)
    )
    return {row[0]: row[1] for row in session.execute(query)}
