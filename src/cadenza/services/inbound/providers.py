"""Provider events (delivered, bounced, complained, opened, clicked, unsubscribed), applied.

Each event is matched to the message we sent: by our key (the custom data we gave the
provider), else by the provider's id for it, else by our Message-ID among the recipient's
emails. Then it becomes what the same thing arriving by mail or link becomes: a hard bounce
flags the contact and exits where `exit.on` says; a complaint unsubscribes the contact and
counts against the mailbox; opens and clicks are engagement events. Providers retry their
calls: a bounce or complaint for a contact already flagged changes nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.provider_hooks.events import ProviderEvent
from cadenza.services.inbound.matching import (
    InboundResult,
    apply_event,
    contact_by_email,
    excerpt,
    message_by_key,
    record_history,
    record_unmatched,
    sent_email,
)
from cadenza.services.inbound.tracking import record_engagement, unsubscribe_contact
from cadenza.settings import Settings
from cadenza.store.models import Contact, Message, Sender


def record_provider_events(
    *, session: Session, events: Sequence[ProviderEvent], now: datetime, settings: Settings
) -> list[InboundResult]:
    """Apply each event, in order; what each became."""
    return [_record(session, event, now, settings) for event in events]


def webhook_secrets(
    *, session: Session, provider: str, setting: str, env: Mapping[str, str], extra: str | None
) -> list[str]:
    """The webhook keys of a provider: `extra` (a setting) and those its senders name."""
    configs = session.scalars(select(Sender.provider_config).where(Sender.provider == provider))
    names = {str(c.get(setting)) for c in configs if c and c.get(setting)}
    return [key for key in [extra or "", *(env.get(name, "") for name in sorted(names))] if key]


def _record(
    session: Session, event: ProviderEvent, now: datetime, settings: Settings
) -> InboundResult:
    if event.kind == "ignored":
        return InboundResult("ignored", detail=f"{event.provider} event: nothing to do")
    message = _message_for(session, event)
    contact_id = message.contact_id if message is not None else None
    if contact_id is None:
        contact = contact_by_email(session, event.recipient)
        contact_id = contact.id if contact is not None else None
    if contact_id is None:
        who = event.recipient or "an unnamed recipient"
        return record_unmatched(
            session, now, event.provider, f"{event.kind} for {who}: no message or contact matches",
            provider_id=event.provider_id, message_key=event.key,
        )  # fmt: skip
    return _APPLY[event.kind](session, event, contact_id, message, now, settings)


def _message_for(session: Session, event: ProviderEvent) -> Message | None:
    if event.key:
        found = message_by_key(session, event.key)
        if found is not None:
            return found
    if event.provider_id:
        found = session.scalar(
            select(Message).where(Message.provider_id == event.provider_id).limit(1)
        )
        if found is not None:
            return found
    contact = contact_by_email(session, event.recipient)
    if contact is not None and event.message_id:
        return sent_email(session, contact.id, [event.message_id.strip().strip("<>")])
    return None


def _details(event: ProviderEvent, message: Message | None) -> dict[str, Any]:
    return {
        "provider": event.provider,
        "recipient": event.recipient,
        "status": event.status,
        "diagnostic": excerpt(event.detail, 300) or None,
        "sender": message.sender if message is not None else None,
    }


def _delivered(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    record_history(session, "message_delivered", now, contact_id, message, provider=event.provider)
    key = message.key if message is not None else None
    return InboundResult("delivered", contact_id=contact_id, message_key=key)


def _bounced(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    key = message.key if message is not None else None
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.email_bounced:
        return InboundResult("bounced", contact_id, message_key=key, detail="already bounced")
    return apply_event(
        session, contact_id, "bounced", now, settings, message, **_details(event, message)
    )


def _soft_bounced(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    record_history(session, "soft_bounce", now, contact_id, message, **_details(event, message))
    key = message.key if message is not None else None
    return InboundResult("soft_bounce", contact_id=contact_id, message_key=key)


def _complained(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    contact = session.get(Contact, contact_id)
    key = message.key if message is not None else None
    if contact is not None and contact.email_unsubscribed:
        return InboundResult("complained", contact_id, message_key=key, detail="already out")
    details = _details(event, message)
    # History keeps the complaint (counted against the mailbox); the unsubscribe it causes
    # stops the contact's email and exits where `exit.on` lists unsubscribed.
    record_history(session, "complained", now, contact_id, message, **details)
    apply_event(
        session, contact_id, "unsubscribed", now, settings, message,
        via=event.provider, complaint=True,
    )  # fmt: skip
    return InboundResult("complained", contact_id=contact_id, message_key=key)


def _engaged(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    return record_engagement(
        session, event.kind, message, now, settings, url=event.url, provider=event.provider
    )


def _unsubscribed(
    session: Session, event: ProviderEvent, contact_id: int, message: Message | None,
    now: datetime, settings: Settings,
) -> InboundResult:  # fmt: skip
    return unsubscribe_contact(session, contact_id, message, now, settings, via=event.provider)


_APPLY = {
    "delivered": _delivered,
    "bounced": _bounced,
    "soft_bounced": _soft_bounced,
    "complained": _complained,
    "opened": _engaged,
    "clicked": _engaged,
    "unsubscribed": _unsubscribed,
}
