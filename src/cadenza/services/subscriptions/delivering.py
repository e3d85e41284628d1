"""Deliveries: each history event a subscription takes, POSTed signed, retried, logged.

A delivery is claimed with a lease (its next attempt pushed out while it is in flight), sent
outside any transaction, and its result recorded; a process that dies mid-send leaves the
lease to expire and the delivery goes again with the same `webhook-id`, which receivers
deduplicate on (Standard Webhooks). Failures that may pass (a timeout, 5xx, 429) are retried
with exponential backoff; a refusal (4xx, a redirect, a blocked address) fails at once, and
`410 Gone` also turns the subscription off.
"""

from __future__ import annotations

import time as timer
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cadenza.channels.errors import PermanentError, SendError, TransientError
from cadenza.channels.outgoing import OutgoingWebhook
from cadenza.channels.ssrf import Resolver, system_resolver
from cadenza.channels.webhooks import WebhookSender
from cadenza.clock import Clock
from cadenza.errors import NotFound
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Contact, Event, Sequence, Subscription, WebhookDelivery

from .managing import MANAGE

BATCH = 50
SENDERS = 8  # deliveries in flight at once
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
LEASE = timedelta(minutes=2)  # longer than a send's timeout


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt."""

    status: str  # delivered | pending (to retry) | failed
    response_status: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Transport:
    """The network seam: tests pass an `httpx.MockTransport` or a resolver of their own."""

    transport: httpx.BaseTransport | None = None
    resolver: Resolver = system_resolver


def deliver_due(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    seam: Transport = Transport(),
) -> int:
    """Send every delivery due now, batch after batch; how many were delivered."""
    delivered = 0
    while True:
        with writing(sessions) as session:
            batch = _claim(session, clock.now())
        if not batch:
            return delivered
        # Sent side by side: one slow receiver does not hold up the others.
        with ThreadPoolExecutor(min(SENDERS, len(batch)), thread_name_prefix="hook") as pool:
            results = pool.map(lambda item: _attempt(item, settings, seam), batch)
            outcomes = list(zip(batch, results, strict=True))
        with writing(sessions) as session:
            _record(session, clock.now(), outcomes)
        delivered += sum(1 for _, outcome in outcomes if outcome.status == "delivered")


def send_test(
    *,
    session: Session,
    subscription_id: int,
    now: datetime,
    settings: Settings,
    seam: Transport = Transport(),
    viewer: Viewer = OPERATOR,
) -> dict[str, Any]:
    """POST a `webhook.test` event now and log it; what the receiver answered."""
    access.require(viewer, MANAGE)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}")
    delivery = WebhookDelivery(
        subscription_id=subscription.id, event_id=None, status="pending", attempts=1,
        created_at=now, last_attempt_at=now,
    )  # fmt: skip
    session.add(delivery)
    session.flush()
    payload = {
        "type": "webhook.test",
        "timestamp": now.isoformat(),
        "data": {"subscription": subscription.id, "message": "A test from Cadenza"},
    }
    item = _Item(delivery.id, subscription.url, subscription.secret, f"cadenza-test-{delivery.id}",
                 payload, delivery.attempts)  # fmt: skip
    outcome = _attempt(item, settings, seam)
    _apply(session, subscription, delivery, outcome, now, retry=False)
    return delivery_row(delivery)


def list_deliveries(
    *,
    session: Session,
    subscription_id: int,
    limit: int = 50,
    status: str | None = None,
    viewer: Viewer = OPERATOR,
) -> list[dict[str, Any]]:
    """The delivery log of a subscription, newest first."""
    access.require(viewer, MANAGE)
    if session.get(Subscription, subscription_id) is None:
        raise NotFound(f"no subscription {subscription_id}")
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [delivery_row(row) for row in rows]


def delivery_row(delivery: WebhookDelivery) -> dict[str, Any]:
    """A delivery as the log shows it."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "error": delivery.error,
        "duration_ms": delivery.duration_ms,
        "created_at": iso(delivery.created_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
    }


@dataclass(frozen=True, slots=True)
class _Item:
    delivery_id: int
    url: str
    secret: str
    key: str
    payload: dict[str, Any] | None  # None: the event is gone (pruned, or its enrollment removed)
    attempts: int


def _claim(session: Session, now: datetime) -> list[_Item]:
    """Lease the next due deliveries of active subscriptions, with what each must send."""
    due = (
        select(WebhookDelivery.id)
        .join(Subscription, Subscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == "pending",
            Subscription.active,
            (WebhookDelivery.next_attempt_at.is_(None)) | (WebhookDelivery.next_attempt_at <= now),
        )
        .order_by(WebhookDelivery.id)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=WebhookDelivery, skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(next_attempt_at=now + LEASE, attempts=WebhookDelivery.attempts + 1)
    )
    query = (
        select(WebhookDelivery, Subscription.url, Subscription.secret, Event, Sequence.name,
               Contact)
        .join(Subscription, Subscription.id == WebhookDelivery.subscription_id)
        .outerjoin(Event, Event.id == WebhookDelivery.event_id)
        .outerjoin(Sequence, Sequence.id == Event.sequence_id)
        .outerjoin(Contact, Contact.id == Event.contact_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    )  # fmt: skip
    items = []
    for delivery, url, secret, event, sequence, contact in session.execute(query):
        payload = _payload(event, sequence, contact) if event is not None else None
        items.append(_Item(delivery.id, url, secret, f"cadenza-event-{delivery.event_id}",
                           payload, delivery.attempts))  # fmt: skip
    return items


def _payload(event: Event, sequence: str | None, contact: Contact | None) -> dict[str, Any]:
    """The Standard Webhooks envelope of a history event."""
    who = None
    if contact is not None:
        who = {
            "id": contact.id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "company": contact.company,
        }
    return {
        "type": event.type,
        "timestamp": event.time.isoformat(),
        "data": {
            "id": event.id,
            "time": event.time.isoformat(),
            "type": event.type,
            "sequence": sequence,
            "sequence_id": event.sequence_id,
            "enrollment_id": event.enrollment_id,
            "step": event.step,
            "actor": event.actor,
            "reason": event.reason,
            "data": event.data,
            "contact": who,
        },
    }


def _attempt(item: _Item, settings: Settings, seam: Transport) -> Outcome:
    """One POST, timed; never raises for what the receiver or the network did."""
    if item.payload is None:
        return Outcome("failed", None, "the event no longer exists (pruned or removed)", 0)
    started = timer.perf_counter()
    sender = WebhookSender(item.secret, settings.webhook_allow, seam.transport,
                           resolver=seam.resolver)  # fmt: skip
    hook = OutgoingWebhook(key=item.key, url=item.url, payload=item.payload)
    try:
        result = sender.send(hook)
    except SendError as exc:
        took = _ms(started)
        code = int(exc.code) if exc.code and exc.code.isdigit() else None
        if isinstance(exc, TransientError):
            return Outcome("pending", code, str(exc), took, retry_after=exc.retry_after)
        assert isinstance(exc, PermanentError)
        return Outcome("failed", code, str(exc), took, gone=code == 410)
    return Outcome("delivered", _status_of(result.detail), None, _ms(started))


def _record(session: Session, now: datetime, outcomes: list[tuple[_Item, Outcome]]) -> None:
    ids = [item.delivery_id for item, _ in outcomes]
    deliveries = {d.id: d for d in session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))}  # fmt: skip
    for item, outcome in outcomes:
        delivery = deliveries.get(item.delivery_id)
        if delivery is None:  # the subscription was deleted meanwhile
            continue
        subscription = session.get(Subscription, delivery.subscription_id)
        assert subscription is not None
        _apply(session, subscription, delivery, outcome, now, retry=True)


def _apply(
    session: Session,
    subscription: Subscription,
    delivery: WebhookDelivery,
    outcome: Outcome,
    now: datetime,
    *,
    retry: bool,
) -> None:
    delivery.last_attempt_at = now
    delivery.response_status = outcome.response_status
    delivery.error = outcome.error
    delivery.duration_ms = outcome.duration_ms
    status = outcome.status
    if status == "pending" and (not retry or delivery.attempts >= MAX_ATTEMPTS):
        status = "failed"
        if retry:
            delivery.error = f"{outcome.error} (gave up after {delivery.attempts} attempts)"
    delivery.status = status
    if status == "pending":
        delivery.next_attempt_at = now + _backoff(delivery.attempts, outcome.retry_after)
    if outcome.gone:
        subscription.active = False
        subscription.disabled_reason = f"turned off: {subscription.url} answered 410 Gone"


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    wait: timedelta = min(FIRST_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=min(retry_after, MAX_BACKOFF.total_seconds())))
    return wait


def _ms(started: float) -> int:
    return round((timer.perf_counter() - started) * 1000)


def _status_of(detail: str) -> int | None:
    parts = detail.split()
    return int(parts[1]) if len(parts) > 1 and parts[0] == "HTTP" and parts[1].isdigit() else None
