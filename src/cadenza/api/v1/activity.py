"""What happened: the outbox's messages and the history (audit log)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from cadenza.api.deps import SessionDep, ViewerDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import Instant, QueryId
from cadenza.services.history import HistoryFilter, HistoryRow, page_history
from cadenza.services.outbox import MessageRow
from cadenza.services.outbox.listing import page_messages

router = APIRouter(route_class=ApiRoute)

MessageStatus = Literal["queued", "sending", "sent", "failed", "suppressed", "held"]
Channel = Literal["email", "sms", "mms", "voicemail", "webhook"]
Order = Literal["oldest", "newest"]


@router.get("/messages", tags=["messages"], responses=PAGED)
def messages(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    status: MessageStatus | None = None,
    channel: Channel | None = None,
    contact: QueryId = None,
    order: Order = "oldest",
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[MessageRow]:
    """Outbox messages of the sequences the caller sees and what became of them, in the
    order they were queued, a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    page = page_messages(
        session=session,
        status=status,
        channel=channel,
        contact_id=contact,
        limit=limit,
        cursor=cursor,
        newest_first=order == "newest",
        viewer=viewer,
    )
    return paged(request, response, page)


@router.get("/history", tags=["history"], responses=PAGED)
def history(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    sequence: Annotated[str | None, Query(max_length=200)] = None,
    contact: QueryId = None,
    type: Annotated[
        list[Annotated[str, Query(max_length=64)]] | None,
        Query(description="Event type (repeatable)"),
    ] = None,
    since: Instant | None = None,
    until: Annotated[Instant | None, Query(description="Events before this instant")] = None,
    order: Order = "oldest",
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[HistoryRow]:
    """What happened in the sequences the caller sees (and to contacts), oldest first (or
    `order=newest`), a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    wanted = HistoryFilter(sequence, contact, type, since, until)
    page = page_history(
        session=session,
        where=wanted,
        limit=limit,
        cursor=cursor,
        newest_first=order == "newest",
        viewer=viewer,
    )
    return paged(request, response, page)
