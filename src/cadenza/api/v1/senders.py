"""Senders: the mailboxes and lines sequences send from, their caps and their users.

Everyone may list them (a sequence shows the line it uses); only admins change them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Model, PathId
from cadenza.services import senders as service
from cadenza.services.paging import Page
from cadenza.services.senders.listing import page_senders
from cadenza.settings import Settings

router = APIRouter(prefix="/senders", tags=["senders"], route_class=ApiRoute)

Hourly = Annotated[int | None, Field(gt=0, le=1_000_000_000)]
Rate = Annotated[float | None, Field(gt=0, le=1_000_000)]


class Health(BaseModel):
    window_days: int
    sent: int
    bounces: int
    complaints: int
    unsubscribes: int
    bounce_rate: float
    complaint_rate: float
    unsubscribe_rate: float


class SenderOut(BaseModel):
    id: int
    kind: Literal["email", "sms"]
    address: str
    name: str
    per_second: float | None
    per_hour: int | None
    per_day: int | None
    users: list[str] = Field(description="The users it is assigned to")
    provider: str = Field(description="smtp, mailgun, sendgrid, ses or postmark")
    provider_config: dict[str, str] = Field(
        description="The provider's settings; `*_env` name variables holding secrets"
    )
    dkim_selector: str | None = Field(description="The DKIM selector, when it has a key")
    paused: bool
    paused_at: str | None
    paused_reason: str | None
    warmup: dict[str, Any] | None = Field(description="The warm-up ramp, when one runs")
    stagger_seconds: float | None
    health: Health | None = Field(description="Rates over the rolling window (mailboxes)")


class Warmup(Model):
    start: int = Field(ge=1, le=1_000_000, description="Emails on the first day")
    step: int = Field(0, ge=0, le=1_000_000, description="More each period")
    every_days: int = Field(1, ge=1, le=365)
    since: date | None = Field(None, description="The first day (default: today)")


class DkimRequest(Model):
    selector: str = Field("cadenza", min_length=1, max_length=63)


class DkimRecord(BaseModel):
    name: str = Field(description="The TXT record's name")
    value: str = Field(description="The TXT record's value")


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
    provider: Literal["smtp", "mailgun", "sendgrid", "ses", "postmark"] | None = None
    provider_config: dict[str, Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=10
    )
    warmup: Warmup | None = Field(None, description="A ramp; null ends it")
    stagger_seconds: Annotated[float | None, Field(gt=0, le=3600)] = None
    paused: bool | None = Field(None, description="Pause (with paused_reason) or resume")
    paused_reason: str = Field("", max_length=500)


class Assignment(Model):
    users: list[Annotated[str, Field(max_length=320)]] = Field(
        max_length=1000, description="Emails of the users it belongs to (replaces)"
    )


def _out(session: Session, sender_id: int, now: datetime, settings: Settings) -> SenderOut:
    sender = service.get_sender(session=session, sender_id=sender_id)
    users = service.assigned_users(session=session, sender_id=sender_id)
    figures = service.health_figures(session, sender, now, settings)
    return SenderOut(**service.sender_row(sender, users, figures))


@router.get("", responses=PAGED)
def list_senders(
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[SenderOut]:
    """Every mailbox and line with its caps, users, provider and health, by kind and address,
    a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    page = page_senders(
        session=session, limit=limit, cursor=cursor, now=clock.now(), settings=settings
    )
    rows = [SenderOut(**row) for row in page.rows]
    return paged(request, response, Page(rows, page.next, page.total))


@router.post("", status_code=201, responses=FORBIDDEN | CONFLICT)
def add_sender(
    body: NewSender,
    session: WriteSessionDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    response: Response,
    clock: ClockDep,
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
    return _out(session, sender.id, clock.now(), settings)


@router.get("/{sender_id}", responses=MISSING)
def show_sender(
    sender_id: PathId, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> SenderOut:
    """One sender, with its health."""
    return _out(session, sender_id, clock.now(), settings)


@router.patch("/{sender_id}", responses=MISSING | FORBIDDEN)
def change_sender(
    sender_id: PathId,
    body: SenderChange,
    session: WriteSessionDep,
    viewer: ViewerDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SenderOut:
    """Change a sender's name, caps, provider, warm-up, stagger or pause (admins)."""
    given = body.model_fields_set
    caps = body.model_dump(include={"per_second", "per_hour", "per_day"} & given)
    service.change_sender(
        session=session, sender_id=sender_id, name=body.name, caps=caps, viewer=viewer
    )
    if "provider" in given or "provider_config" in given:
        current = service.get_sender(session=session, sender_id=sender_id)
        service.set_provider(
            session=session, sender_id=sender_id, viewer=viewer,
            provider=body.provider or current.provider,
            config=body.provider_config if body.provider_config is not None else {},
        )  # fmt: skip
    if "warmup" in given:
        ramp = body.warmup
        service.set_warmup(
            session=session, sender_id=sender_id, viewer=viewer,
            start=ramp.start if ramp else None, step=ramp.step if ramp else 0,
            every_days=ramp.every_days if ramp else 1,
            since=(ramp.since if ramp else None) or clock.now().date(),
        )  # fmt: skip
    if "stagger_seconds" in given:
        service.set_stagger(
            session=session, sender_id=sender_id, seconds=body.stagger_seconds, viewer=viewer
        )
    if body.paused is not None:
        service.set_paused(
            session=session, sender_id=sender_id, paused=body.paused, now=clock.now(),
            reason=body.paused_reason, viewer=viewer,
        )  # fmt: skip
    return _out(session, sender_id, clock.now(), settings)


@router.post("/{sender_id}/dkim", status_code=201, responses=MISSING | FORBIDDEN)
def make_dkim(
    sender_id: PathId, body: DkimRequest, session: WriteSessionDep, viewer: ViewerDep
) -> DkimRecord:
    """A new DKIM key for a mailbox sending through SMTP (admins); the TXT record to publish."""
    name, value = service.make_dkim(
        session=session, sender_id=sender_id, selector=body.selector, viewer=viewer
    )
    return DkimRecord(name=name, value=value)


@router.delete("/{sender_id}", status_code=204, response_class=Response, responses=MISSING)
def remove_sender(sender_id: PathId, session: WriteSessionDep, viewer: ViewerDep) -> None:
    """Delete a sender (admins): its address then sends without caps."""
    service.remove_sender(session=session, sender_id=sender_id, viewer=viewer)


@router.put("/{sender_id}/users", responses=MISSING | FORBIDDEN)
def assign_sender(
    sender_id: PathId,
    body: Assignment,
    session: WriteSessionDep,
    viewer: ViewerDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SenderOut:
    """Assign a sender to exactly these users (admins)."""
    service.assign_sender(session=session, sender_id=sender_id, emails=body.users, viewer=viewer)
    return _out(session, sender_id, clock.now(), settings)
