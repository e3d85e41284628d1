"""The subscriptions page: history events out to a CRM, their delivery log (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.services import subscriptions
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
BACK = "/subscriptions"
LOG = 20  # deliveries shown per subscription


@router.get("/subscriptions")
def subscriptions_page(request: Request, viewer: PageViewer) -> Response:
    """Every subscription, what it takes, and its latest deliveries."""
    with request.app.state.sessions() as session:
        rows = subscriptions.list_subscriptions(session=session, viewer=viewer)
        logs = {
            row["id"]: subscriptions.list_deliveries(
                session=session, subscription_id=row["id"], limit=LOG, viewer=viewer
            )
            for row in rows
        }
    context = {"subscriptions": rows, "logs": logs, "types": sorted(subscriptions.EVENT_TYPES)}
    return page(request, "subscriptions.html", context)


@router.post("/subscriptions")
def add_subscription(
    request: Request,
    viewer: PageViewer,
    url: Annotated[str, Form(max_length=2000)],
    name: Annotated[str, Form(max_length=200)] = "",
    types: Annotated[list[str] | None, Form(max_length=100)] = None,
    sequences: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Subscribe a URL to history events (by type and sequence; none chosen: all)."""
    names = [n.strip() for n in sequences.split(",") if n.strip()]
    allow = request.app.state.settings.webhook_allow

    def change(session: Session, now: datetime) -> str:
        created = subscriptions.create(
            session=session, url=url, now=now, types=types or [], sequences=names, name=name,
            allow=allow, viewer=viewer,
        )  # fmt: skip
        return f"Subscribed {created.url}; its signing secret is shown below."

    return perform(request, BACK, change, form=True)


@router.post("/subscriptions/{subscription_id}/test")
def test_subscription(request: Request, viewer: PageViewer, subscription_id: int) -> Response:
    """Send a `webhook.test` event now; the flash says what the receiver answered."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        row = subscriptions.send_test(
            session=session, subscription_id=subscription_id, now=now, settings=settings,
            viewer=viewer,
        )  # fmt: skip
        if row["status"] == "delivered":
            return f"Test delivered: HTTP {row['response_status']} in {row['duration_ms']} ms."
        return f"Test failed: {row['error']}"

    return perform(request, BACK, change)


@router.post("/subscriptions/{subscription_id}/{verb}")
def switch_subscription(
    request: Request, viewer: PageViewer, subscription_id: int, verb: str
) -> Response:
    """Turn a subscription on or off, or delete it."""
    from cadenza.errors import NotFound

    if verb not in ("on", "off", "remove"):
        raise NotFound(f"no action {verb!r}")
    allow = request.app.state.settings.webhook_allow

    def change(session: Session, _now: datetime) -> str:
        if verb == "remove":
            subscriptions.remove(session=session, subscription_id=subscription_id, viewer=viewer)
            return f"Removed subscription {subscription_id}."
        subscriptions.change(
            session=session, subscription_id=subscription_id, active=verb == "on",
            allow=allow, viewer=viewer,
        )  # fmt: skip
        return f"Subscription {subscription_id} is {verb}."

    return perform(request, BACK, change)
