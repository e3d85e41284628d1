"""What happened: the outbox's messages and the history (audit log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cadenza.api.deps import SessionDep
from cadenza.api.v1.schemas import Instant, QueryId
from cadenza.services.history import HistoryRow, list_history
from cadenza.services.outbox import MessageRow, list_messages

router = APIRouter()


@router.get("/messages", tags=["messages"])
def messages(
    session: SessionDep, status: str | None = None, channel: str | None = None
) -> list[MessageRow]:
    """Outbox messages and what became of them."""
    rows = list_messages(session=session, status=status, channel=channel)
    return rows


@router.get("/history", tags=["history"])
def history(
    session: SessionDep,
    sequence: str | None = None,
    contact: QueryId = None,
    type: Annotated[list[str] | None, Query(description="Event type (repeatable)")] = None,
    since: Instant | None = None,
) -> list[HistoryRow]:
    """What happened, oldest first: transitions, changes and messages, with reasons."""
    rows = list_history(
        session=session, sequence=sequence, contact_id=contact, types=type, since=since
    )
    return rows
