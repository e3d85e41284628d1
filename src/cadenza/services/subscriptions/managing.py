"""Webhook subscriptions as managed objects: where history events go, which ones, signed how.

Administrators manage them (they send contacts' data out of Cadenza). A subscription takes
event types and sequences; none given means all. The database matches new events to the
subscriptions (see the `0005_subscriptions` migration), so what is set here takes effect
for the next event recorded, in every process at once.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cadenza.channels.errors import SendError
from cadenza.channels.ssrf import AllowList, check_destination, system_resolver
from cadenza.channels.webhooks import SECRET_PREFIX
from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Sequence, Subscription, SubscriptionTopic, WebhookDelivery

MANAGE = "manage webhook subscriptions"
EVENT_TYPES = frozenset(CONTACT_EVENTS | ENROLLMENT_EVENTS)
MAX_TOPICS = 200


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def create(
    *,
    session: Session,
    url: str,
    now: datetime,
    types: Seq[str] = (),
    sequences: Seq[str] = (),
    name: str = "",
    allow: Seq[str] = (),
    viewer: Viewer = OPERATOR,
) -> Subscription:
    """A new subscription, active, with a fresh secret; every problem of the input at once."""
    access.require(viewer, MANAGE)
    sequence_ids = _checked(session, url, types, sequences, allow)
    subscription = Subscription(
        name=name.strip(),
        url=url.strip(),
        secret=new_secret(),
        active=True,
        created_by=viewer.person.user_id,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    _set_topics(session, subscription.id, types, sequence_ids)
    return subscription


def change(
    *,
    session: Session,
    subscription_id: int,
    active: bool | None = None,
    url: str | None = None,
    types: Seq[str] | None = None,
    sequences: Seq[str] | None = None,
    allow: Seq[str] = (),
    viewer: Viewer = OPERATOR,
) -> Subscription:
    """Turn a subscription on or off, or change where it goes or what it takes."""
    access.require(viewer, MANAGE)
    subscription = get(session=session, subscription_id=subscription_id, viewer=viewer)
    current_types, current_sequences = topics(session, subscription.id)
    new_types = current_types if types is None else list(types)
    new_sequences = current_sequences if sequences is None else list(sequences)
    sequence_ids = _checked(session, url or subscription.url, new_types, new_sequences, allow)
    if url is not None:
        subscription.url = url.strip()
    if active is not None:
        subscription.active = active
        subscription.disabled_reason = None if active else "turned off"
    if types is not None or sequences is not None:
        _set_topics(session, subscription.id, new_types, sequence_ids)
    return subscription


def remove(*, session: Session, subscription_id: int, viewer: Viewer = OPERATOR) -> None:
    """Delete a subscription and its delivery log."""
    access.require(viewer, MANAGE)
    session.delete(get(session=session, subscription_id=subscription_id, viewer=viewer))


def get(*, session: Session, subscription_id: int, viewer: Viewer = OPERATOR) -> Subscription:
    """One subscription (administrators only)."""
    access.require(viewer, MANAGE)
    found = session.get(Subscription, subscription_id)
    if found is None:
        raise NotFound(f"no subscription {subscription_id}")
    return found


def topics(session: Session, subscription_id: int) -> tuple[list[str], list[str]]:
    """The event types and sequence names a subscription takes (empty: all)."""
    query = (
        select(SubscriptionTopic.type, Sequence.name)
        .outerjoin(Sequence, Sequence.id == SubscriptionTopic.sequence_id)
        .where(SubscriptionTopic.subscription_id == subscription_id)
    )
    types: set[str] = set()
    names: set[str] = set()
    for type_, name in session.execute(query):
        if type_:
            types.add(type_)
        if name:
            names.add(name)
    return sorted(types), sorted(names)


def list_subscriptions(*, session: Session, viewer: Viewer = OPERATOR) -> list[dict[str, Any]]:
    """Every subscription with its topics and how its deliveries stand."""
    access.require(viewer, MANAGE)
    counts: dict[int, dict[str, int]] = {}
    query = select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count()).group_by(
        WebhookDelivery.subscription_id, WebhookDelivery.status
    )
    for subscription_id, status, count in session.execute(query):
        counts.setdefault(subscription_id, {})[status] = count
    rows = session.scalars(select(Subscription).order_by(Subscription.id))
    return [describe(session, s, counts.get(s.id, {})) for s in rows]


def describe(
    session: Session, subscription: Subscription, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    """A subscription as listings show it (its secret included: the receiver needs it)."""
    types, sequences = topics(session, subscription.id)
    if counts is None:
        query = (
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.subscription_id == subscription.id)
            .group_by(WebhookDelivery.status)
        )
        counts = dict(session.execute(query).all())
    return {
        "id": subscription.id,
        "name": subscription.name,
        "url": subscription.url,
        "secret": subscription.secret,
        "active": subscription.active,
        "disabled_reason": subscription.disabled_reason,
        "types": types,
        "sequences": sequences,
        "pending": counts.get("pending", 0),
        "delivered": counts.get("delivered", 0),
        "failed": counts.get("failed", 0),
        "created_at": subscription.created_at.isoformat(),
    }


def _checked(
    session: Session, url: str, types: Seq[str], sequences: Seq[str], allow: Seq[str]
) -> list[int]:
    """The sequences' ids once the URL, the types and the names are all right."""
    problems: list[str] = []
    try:
        # Checked now for a clear answer; checked again at every send (DNS may change).
        check_destination(url.strip(), AllowList(allow), system_resolver)
    except SendError as exc:
        problems.append(f"url: {exc}")
    for type_ in types:
        if type_ not in EVENT_TYPES:
            problems.append(f"types: no event type {type_!r}")
    if len(types) * max(1, len(sequences)) > MAX_TOPICS:
        problems.append(f"at most {MAX_TOPICS} type and sequence pairs")
    found = dict(
        session.execute(
            select(Sequence.name, Sequence.id).where(Sequence.name.in_(sequences))
        ).all()
    )
    problems += [f"sequences: no sequence named {n!r}" for n in sequences if n not in found]
    if problems:
        raise ValidationFailed("; ".join(problems))
    return [found[n] for n in sequences]


def _set_topics(
    session: Session, subscription_id: int, types: Seq[str], sequence_ids: Seq[int]
) -> None:
    session.execute(
        delete(SubscriptionTopic).where(SubscriptionTopic.subscription_id == subscription_id)
    )
    kinds: list[str | None] = list(types) or [None]
    where: list[int | None] = list(sequence_ids) or [None]
    pairs = [(t, s) for t in kinds for s in where]
    session.add_all(
        SubscriptionTopic(subscription_id=subscription_id, type=t, sequence_id=s)
        for t, s in dict.fromkeys(pairs)
    )
    session.flush()
