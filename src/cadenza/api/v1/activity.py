"""What happened: the outbox's messages and the history (audit log)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cadenza.api.deps import SessionDep
from cadenza.api.v1.schemas import Instant, QueryId
from cadenza.services.history import list_history
from cadenza.services.outbox import list_messages

router = APIRouter()


class MessageRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    key: str = Field(description="Idempotency key enrollment:step:visit")
    channel: str
    to: str
    from_: str | None = Field(alias="from")
    status: str
    step: str | None
    contact_id: int | None
    enrollment_id: int | None
    subject: str | None
    body: str
    attempts: int
    error: str | None
    provider_id: str | None
    created_at: Instant
    sent_at: Instant | None


class HistoryRow(BaseModel):
    time: Instant
    type: str
    sequence: str | None
    contact_id: int | None
    enrollment_id: int | None
    step: str | None
    actor: str
    reason: str | None
    data: dict[str, Any]


@router.get("/messages", tags=["messages"])
def messages(
    session: SessionDep, status: str | None = None, channel: str | None = None
) -> list[MessageRow]:
    """Outbox messages and what became of them."""
    rows = list_messages(session=session, status=status, channel=channel)
    return [MessageRow.model_validate(row) for row in rows]


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
    return [HistoryRow.model_validate(row) for row in rows]
