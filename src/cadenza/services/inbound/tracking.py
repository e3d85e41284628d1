"""Opens, clicks and unsubscribes: the signed links in our emails, turned into events.

Every function verifies the token first (`InvalidToken` otherwise); only a valid token
records anything, and a click only ever leads to the URL inside a valid token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.channels.tracking import (
    LinkTarget,
    read_click_token,
    read_open_token,
    read_unsubscribe_token,
)
from cadenza.services.inbound.matching import (
    InboundResult,
    apply_event,
    message_by_key,
    record_unmatched,
)
from cadenza.settings import Settings
from cadenza.store.models import Contact, Message


def record_open(
    *, session: Session, token: str, now: datetime, settings: Settings
) -> InboundResult:
    """An open pixel was loaded: `opened`, with the step of the message it was in."""
    target = read_open_token(token, settings.secret_key)
    return _engagement(session, "opened", target.key, now, settings)


def record_click(*, session: Session, token: str, now: datetime, settings: Settings) -> str:
    """A tracked link was followed: `clicked` is recorded; the URL to redirect to."""
    target = read_click_token(token, settings.secret_key)
    assert target.url is not None  # read_click_token refuses tokens without one
    _engagement(session, "clicked", target.key, now, settings, url=target.url)
    return target.url


def check_unsubscribe(*, token: str, settings: Settings) -> None:
    """Raise InvalidToken unless `token` is an unsubscribe token we issued."""
    read_unsubscribe_token(token, settings.secret_key)


def unsubscribe(
    *, session: Session, token: str, now: datetime, settings: Settings
) -> InboundResult:
    """The contact an unsubscribe token names is unsubscribed from email (once)."""
    target = read_unsubscribe_token(token, settings.secret_key)
    contact_id, message = unsubscribe_target(session, target)
    if contact_id is None:
        return record_unmatched(
            session, now, "link", "unsubscribe link for a contact that no longer exists",
            message_key=target.key,
        )  # fmt: skip
    return unsubscribe_contact(session, contact_id, message, now, settings, via="link")


def unsubscribe_target(session: Session, target: LinkTarget) -> tuple[int | None, Message | None]:
    """The existing contact and the message an unsubscribe token was issued for."""
    message = message_by_key(session, target.key)
    contact_id = target.contact_id
    if contact_id is None and message is not None:
        contact_id = message.contact_id
    if contact_id is not None and session.get(Contact, contact_id) is None:
        contact_id = None
    return contact_id, message


def unsubscribe_contact(
    session: Session,
    contact_id: int,
    message: Message | None,
    now: datetime,
    settings: Settings,
    *,
    via: str,
) -> InboundResult:
    """Record `unsubscribed` unless the contact already is (clients retry one-click POSTs)."""
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.email_unsubscribed:
        key = message.key if message is not None else None
        return InboundResult(
            "unsubscribed", contact_id=contact_id, message_key=key, detail="already unsubscribed"
        )
    return apply_event(session, contact_id, "unsubscribed", now, settings, message, via=via)


def _engagement(
    session: Session, name: str, key: str, now: datetime, settings: Settings, **data: Any
) -> InboundResult:
    return record_engagement(session, name, message_by_key(session, key), now, settings, **data)


def record_engagement(
    session: Session,
    name: str,
    message: Message | None,
    now: datetime,
    settings: Settings,
    **data: Any,
) -> InboundResult:
    """`opened` or `clicked` for the contact a message went to (a provider saw it, or we)."""
    key = message.key if message is not None else None
    if message is None or message.contact_id is None or message.meta.get("notify"):
        # A message since removed with its enrollment, or a notification to a user.
        return InboundResult("ignored", message_key=key, detail="no contact to record it for")
    return apply_event(session, message.contact_id, name, now, settings, message, **data)
