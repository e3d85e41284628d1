"""Webhook subscriptions: history events out to a CRM (administrators only).

Each delivery is signed per Standard Webhooks with the subscription's own secret, retried
with backoff and logged; `POST /{id}/test` sends a `webhook.test` event at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.schemas import FORBIDDEN, MISSING, Model, PathId
from cadenza.services import subscriptions as service

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], route_class=ApiRoute)

EventType = Annotated[str, Field(max_length=64)]
Name = Annotated[str, Field(max_length=200)]


class SubscriptionOut(BaseModel):
    id: int
    name: str
    url: str
    secret: str = Field(description="The signing secret (`whsec_…`) the receiver verifies with")
    active: bool
    disabled_reason: str | None
    types: list[str] = Field(description="Event types it takes; empty: every type")
    sequences: list[str] = Field(description="Sequences it takes events of; empty: all")
    pending: int
    delivered: int
    failed: int
    created_at: str


class NewSubscription(Model):
    url: str = Field(min_length=1, max_length=2000, description="Where events are POSTed")
    name: Name = ""
    types: list[EventType] = Field(default_factory=list, max_length=100)
    sequences: list[Name] = Field(default_factory=list, max_length=100)


class SubscriptionChange(Model):
    """Only what is given changes."""

    url: str | None = Field(None, min_length=1, max_length=2000)
    active: bool | None = None
    types: list[EventType] | None = Field(None, max_length=100)
    sequences: list[Name] | None = Field(None, max_length=100)


class DeliveryOut(BaseModel):
    id: int
    event_id: int | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    error: str | None
    duration_ms: int | None
    created_at: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None


@router.get("", responses=FORBIDDEN)
def list_subscriptions(session: SessionDep, viewer: ViewerDep) -> list[SubscriptionOut]:
    """Every subscription, with how its deliveries stand."""
    rows = service.list_subscriptions(session=session, viewer=viewer)
    return [SubscriptionOut(**row) for row in rows]


@router.post("", status_code=201, responses=FORBIDDEN)
def create_subscription(
    body: NewSubscription,
    session: WriteSessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
    response: Response,
) -> SubscriptionOut:
    """Subscribe a URL to history events (by type and sequence; none given: all)."""
    created = service.create(
        session=session,
        url=body.url,
        now=clock.now(),
        types=body.types,
        sequences=body.sequences,
        name=body.name,
        allow=settings.webhook_allow,
        viewer=viewer,
    )
    response.headers["Location"] = f"/api/v1/subscriptions/{created.id}"
    return SubscriptionOut(**service.describe(session, created))


@router.get("/{subscription_id}", responses=MISSING | FORBIDDEN)
def show_subscription(
    subscription_id: PathId, session: SessionDep, viewer: ViewerDep
) -> SubscriptionOut:
    """One subscription."""
    found = service.get(session=session, subscription_id=subscription_id, viewer=viewer)
    return SubscriptionOut(**service.describe(session, found))


@router.patch("/{subscription_id}", responses=MISSING | FORBIDDEN)
def change_subscription(
    subscription_id: PathId,
    body: SubscriptionChange,
    session: WriteSessionDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> SubscriptionOut:
    """Turn it on or off, or change its URL, types or sequences."""
    changed = service.change(
        session=session,
        subscription_id=subscription_id,
        active=body.active,
        url=body.url,
        types=body.types,
        sequences=body.sequences,
        allow=settings.webhook_allow,
        viewer=viewer,
    )
    return SubscriptionOut(**service.describe(session, changed))


@router.delete(
    "/{subscription_id}", status_code=204, response_class=Response, responses=MISSING | FORBIDDEN
)
def delete_subscription(
    subscription_id: PathId, session: WriteSessionDep, viewer: ViewerDep
) -> None:
    """Delete a subscription and its delivery log."""
    service.remove(session=session, subscription_id=subscription_id, viewer=viewer)


@router.get("/{subscription_id}/deliveries", responses=MISSING | FORBIDDEN)
def list_deliveries(
    subscription_id: PathId,
    session: SessionDep,
    viewer: ViewerDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    """The delivery log, newest first."""
    rows = service.list_deliveries(
        session=session, subscription_id=subscription_id, limit=limit, status=status, viewer=viewer
    )
    return [DeliveryOut(**row) for row in rows]


@router.post("/{subscription_id}/test", responses=MISSING | FORBIDDEN)
def test_subscription(
    subscription_id: PathId,
    session: WriteSessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
) -> DeliveryOut:
    """Send a `webhook.test` event now; the delivery says what the receiver answered."""
    row = service.send_test(
        session=session,
        subscription_id=subscription_id,
        now=clock.now(),
        settings=settings,
        viewer=viewer,
    )
    return DeliveryOut(**row)
