"""Senders: the mailboxes and lines sequences send from, their caps and their users.

Everyone may list them (a sequence shows the line it uses); only admins change them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cadenza.api.deps import SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Model, PathId
from cadenza.services import senders as service
from cadenza.services.paging import Page
from cadenza.services.senders.listing import page_senders

router = APIRouter(prefix="/senders", tags=["senders"])

Hourly = Annotated[int | None, Field(gt=0, le=1_000_000_000)]
Rate = Annotated[float | None, Field(gt=0, le=1_000_000)]


class SenderOut(BaseModel):
    id: int
    kind: Literal["email", "sms"]
    address: str
    name: str
    per_second: float | None
    per_hour: int | None
    per_day: int | None
    users: list[str] = Field(description="The users it is assigned to")


class NewSender(Model):
    kind: Literal["email", "sms"]
    address: str = Field(
        min_length=1, max_length=320, description="An email address, or a number (E.164)"
    )
    name: str = Field("", max_length=200)
    per_second: Rate = None
    per_hour: Hourly = None
    per_day: Hourly = None


class SenderChange(Model):
    """Only what is given changes; a cap given as null is lifted."""

    name: str | None = Field(None, max_length=200)
    per_second: Rate = None
    per_hour: Hourly = None
    per_day: Hourly = None


class Assignment(Model):
    users: list[Annotated[str, Field(max_length=320)]] = Field(
        max_length=1000, description="Emails of the users it belongs to (replaces)"
    )


def _out(session: Session, sender_id: int) -> SenderOut:
    sender = service.get_sender(session=session, sender_id=sender_id)
    users = service.assigned_users(session=session, sender_id=sender_id)
    return SenderOut(**service.sender_row(sender, users))


@router.get("", responses=PAGED)
def list_senders(
    request: Request,
    response: Response,
    session: SessionDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[SenderOut]:
    """Every mailbox and line with its caps and users, by kind and address, a page at a
    time (`Link: rel="next"`, `X-Total-Count`)."""
    page = page_senders(session=session, limit=limit, cursor=cursor)
    rows = [SenderOut(**row) for row in page.rows]
    return paged(request, response, Page(rows, page.next, page.total))


@router.post("", status_code=201, responses=FORBIDDEN | CONFLICT)
def add_sender(
    body: NewSender,
    session: WriteSessionDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    response: Response,
) -> SenderOut:
    """Describe a mailbox or line and its caps (admins)."""
    sender = service.add_sender(
        session=session,
        kind=body.kind,
        address=body.address,
        name=body.name,
        caps=body.model_dump(include={"per_second", "per_hour", "per_day"}),
        default_region=settings.default_region,
        viewer=viewer,
    )
    response.headers["Location"] = f"/api/v1/senders/{sender.id}"
    return _out(session, sender.id)


@router.get("/{sender_id}", responses=MISSING)
def show_sender(sender_id: PathId, session: SessionDep) -> SenderOut:
    """One sender."""
    return _out(session, sender_id)


@router.patch("/{sender_id}", responses=MISSING | FORBIDDEN)
def change_sender(
    sender_id: PathId, body: SenderChange, session: WriteSessionDep, viewer: ViewerDep
) -> SenderOut:
    """Rename a sender or change its caps (admins)."""
    caps = body.model_dump(include={"per_second", "per_hour", "per_day"} & body.model_fields_set)
    service.change_sender(
        session=session, sender_id=sender_id, name=body.name, caps=caps, viewer=viewer
    )
    return _out(session, sender_id)


@router.delete("/{sender_id}", status_code=204, response_class=Response, responses=MISSING)
def remove_sender(sender_id: PathId, session: WriteSessionDep, viewer: ViewerDep) -> None:
    """Delete a sender (admins): its address then sends without caps."""
    service.remove_sender(session=session, sender_id=sender_id, viewer=viewer)


@router.put("/{sender_id}/users", responses=MISSING | FORBIDDEN)
def assign_sender(
    sender_id: PathId, body: Assignment, session: WriteSessionDep, viewer: ViewerDep
) -> SenderOut:
    """Assign a sender to exactly these users (admins)."""
    service.assign_sender(session=session, sender_id=sender_id, emails=body.users, viewer=viewer)
    return _out(session, sender_id)
