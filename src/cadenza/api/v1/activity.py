"""What happened: the outbox's messages and the history (audit log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cadenza.api.deps import SessionDep, ViewerDep
from cadenza.api.v1.schemas import Instant, QueryId
from cadenza.services.history import HistoryRow, list_history
from cadenza.services.outbox import MessageRow, list_messages

router = APIRouter()


@router.get("/messages", tags=["messages"])
def messages(
    session: SessionDep, viewer: ViewerDep, status: str | None = None, channel: str | None = None
) -> list[MessageRow]:
    """Outbox messages of the sequences the caller sees, and what became of them."""
    rows = list_messages(session=session, status=status, channel=channel, viewer=viewer)
    return rows


@router.get("/history", tags=["history"])
def history(
    session: SessionDep,
    viewer: ViewerDep,
    sequence: str | None = None,
    contact: QueryId = None,
    type: Annotated[list[str] | None, Query(description="Event type (repeatable)")] = None,
    since: Instant | None = None,
) -> list[HistoryRow]:
    """What happened in the sequences the caller sees (and to contacts), oldest first."""
    rows = list_history(
        session=session,
        sequence=sequence,
        contact_id=contact,
        types=type,
        since=since,
        viewer=viewer,
    )
    return rows
