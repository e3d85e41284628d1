"""Sequences as the API and the CLI page through them: by name, with their latest version.

Read through SQLAlchemy Core (`store.columns`), not the ORM: `cadenza sequences list` then
starts without loading the ORM and the models, and the API's session runs the same
statements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from cadenza.services import paging
from cadenza.services.users.viewers import OPERATOR, Viewer
from cadenza.store.columns import enrollments, sequence_versions, sequences, users
from cadenza.store.types import SEQUENCE_STATUSES

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

# Enrollments that count as "in" a sequence on listings.
ENROLLED_STATUSES = ("active", "waiting", "paused")
ORDER = paging.Order((sequences.c.name,), (str,))


@dataclass(frozen=True)
class SequenceRow:
    """A sequence as listings show it (CLI, API and the home page)."""

    name: str
    status: str
    steps: int
    version: int
    enrolled: int
    description: str
    owner: str | None
    sharing: str
    access: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def page_sequences(
    *,
    session: Session | Connection,
    status: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    count: bool = True,
    viewer: Viewer = OPERATOR,
) -> paging.Page[SequenceRow]:
    """A page of the sequences the viewer sees, by name, with the next cursor and the total."""
    s, v = sequences.c, sequence_versions.c
    latest = (
        select(v.sequence_id, func.max(v.number).label("number")).group_by(v.sequence_id).subquery()
    )
    joined = (
        sequences.join(latest, latest.c.sequence_id == s.id)
        .join(sequence_versions, (v.sequence_id == s.id) & (v.number == latest.c.number))
        .outerjoin(users, users.c.id == s.owner_id)
    )
    query = select(sequences, v.number, v.definition, users.c.email.label("owner")).select_from(
        joined
    )
    if not viewer.sees_everything:  # the operator and admins see all: no ORM to load for them
        from cadenza.services.users import access

        query = query.where(access.visible_sequences(viewer, s))
    if status is not None:
        query = query.where(
            s.status == paging.one_of("status", status, SEQUENCE_STATUSES, "a status of sequences")
        )
    page = paging.fetch(session, query, ORDER, limit=limit, cursor=cursor, count=count)
    enrolled = _enrolled(session, [row.id for row in page.rows])
    found = [
        sequence_row(row, row.definition, row.number, row.owner, enrolled.get(row.id, 0))
        for row in page.rows
    ]
    return paging.Page(found, page.next, page.total)


def sequence_row(
    sequence: Any, definition: dict[str, Any], number: int, owner: str | None, enrolled: int
) -> SequenceRow:
    """A listing row of a sequence (a Core row or a `models.Sequence`) and its latest version."""
    return SequenceRow(
        name=sequence.name,
        status=sequence.status,
        steps=len(definition.get("steps", [])),
        version=number,
        enrolled=enrolled,
        description=str(definition.get("description", "")),
        owner=owner,
        sharing=sequence.sharing,
        access=sequence.sharing_access,
        created_at=sequence.created_at,
        updated_at=sequence.updated_at,
    )


def _enrolled(session: Session | Connection, sequence_ids: list[int]) -> dict[int, int]:
    e = enrollments.c
    query = (
        select(e.sequence_id, func.count())
        .where(e.sequence_id.in_(sequence_ids))
        .where(e.status.in_(ENROLLED_STATUSES))
        .group_by(e.sequence_id)
    )
    return {row[0]: row[1] for row in session.execute(query)}
