"""Provider events read into one shape: what happened to which of our messages.

Each provider names our message its own way: the key we gave it as custom data (Mailgun
`user-variables`, SendGrid `custom_args`, Postmark `Metadata`, SES tags), its own id for
the message (what its send answered, stored on the outbox row), or our Message-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cadenza.channels.providers.base import KEY_FIELD

# Cadenza's kinds: delivered, bounced (hard), soft_bounced, complained, opened, clicked,
# unsubscribed; `ignored` for what means nothing to a sequence (queued, processed...).
KINDS = (
    "delivered", "bounced", "soft_bounced", "complained", "opened", "clicked", "unsubscribed",
    "ignored",
)  # fmt: skip


@dataclass(frozen=True)
class ProviderEvent:
    """One event about one message we sent through a provider."""

    provider: str
    kind: str
    key: str | None = None
    provider_id: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    url: str | None = None
    status: str | None = None
    detail: str | None = None
    time: datetime | None = None


def mailgun(payload: dict[str, Any]) -> ProviderEvent:
    """A Mailgun webhook body (`signature` + `event-data`)."""
    data = _dict(payload.get("event-data"))
    name = str(data.get("event", ""))
    severity = str(data.get("severity", ""))
    kind = {
        "delivered": "delivered",
        "complained": "complained",
        "opened": "opened",
        "clicked": "clicked",
        "unsubscribed": "unsubscribed",
    }.get(name, "ignored")
    if name == "failed":
        kind = "bounced" if severity == "permanent" else "soft_bounced"
    status = _dict(data.get("delivery-status"))
    headers = _dict(_dict(data.get("message")).get("headers"))
    message_id = _text(headers.get("message-id"))
    return ProviderEvent(
        "mailgun",
        kind,
        key=_text(_dict(data.get("user-variables")).get(KEY_FIELD)),
        provider_id=message_id.strip("<>") if message_id else None,
        message_id=message_id,
        recipient=_text(data.get("recipient")),
        url=_text(data.get("url")),
        status=_text(status.get("code")),
        detail=_text(status.get("description") or status.get("message") or data.get("reason")),
        time=_epoch(data.get("timestamp")),
    )


SENDGRID_KINDS = {
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "bounced",
    "deferred": "ignored",
    "spamreport": "complained",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def sendgrid(item: dict[str, Any]) -> ProviderEvent:
    """One event of a SendGrid Event Webhook batch (custom args are top-level fields)."""
    name = str(item.get("event", ""))
    kind = SENDGRID_KINDS.get(name, "ignored")
    if name == "bounce" and item.get("type") == "blocked":
        kind = "soft_bounced"  # a block is the receiver's refusal now, not a dead address
    # sg_message_id is the X-Message-Id of the send, then ".filter..." SendGrid adds.
    sg_id = _text(item.get("sg_message_id"))
    return ProviderEvent(
        "sendgrid",
        kind,
        key=_text(item.get(KEY_FIELD)),
        provider_id=sg_id.split(".")[0] if sg_id else None,
        message_id=_text(item.get("smtp-id")),
        recipient=_text(item.get("email")),
        url=_text(item.get("url")),
        status=_text(item.get("status")),
        detail=_text(item.get("reason") or item.get("response")),
        time=_epoch(item.get("timestamp")),
    )


SES_KINDS = {
    "Delivery": "delivered",
    "Complaint": "complained",
    "Open": "opened",
    "Click": "clicked",
    "Subscription": "unsubscribed",
}


def ses(message: dict[str, Any]) -> ProviderEvent:
    """An SES event or notification (the JSON inside an SNS `Message`)."""
    name = str(message.get("eventType") or message.get("notificationType") or "")
    mail = _dict(message.get("mail"))
    kind = SES_KINDS.get(name, "ignored")
    recipient, status, detail = None, None, None
    if name == "Bounce":
        bounce = _dict(message.get("bounce"))
        kind = "bounced" if bounce.get("bounceType") == "Permanent" else "soft_bounced"
        first = _first(bounce.get("bouncedRecipients"))
        recipient, status = _text(first.get("emailAddress")), _text(first.get("status"))
        detail = _text(first.get("diagnosticCode") or bounce.get("bounceSubType"))
    elif name == "Complaint":
        complaint = _dict(message.get("complaint"))
        recipient = _text(_first(complaint.get("complainedRecipients")).get("emailAddress"))
        detail = _text(complaint.get("complaintFeedbackType"))
    tags = _dict(mail.get("tags"))
    key = tags.get(KEY_FIELD)
    return ProviderEvent(
        "ses",
        kind,
        key=_text(key[0] if isinstance(key, list) and key else key),
        provider_id=_text(mail.get("messageId")),
        recipient=recipient or _text(_first_text(mail.get("destination"))),
        url=_text(_dict(message.get("click")).get("link")),
        status=status,
        detail=detail,
    )


POSTMARK_KINDS = {
    "Delivery": "delivered",
    "SpamComplaint": "complained",
    "Open": "opened",
    "Click": "clicked",
}
SOFT_POSTMARK = {"SoftBounce", "Transient", "DnsError", "AutoResponder", "Blocked"}


def postmark(item: dict[str, Any]) -> ProviderEvent:
    """A Postmark webhook body (one event, its `RecordType`)."""
    record = str(item.get("RecordType", ""))
    kind = POSTMARK_KINDS.get(record, "ignored")
    if record == "Bounce":
        kind = "soft_bounced" if str(item.get("Type")) in SOFT_POSTMARK else "bounced"
    elif record == "SubscriptionChange":
        kind = "unsubscribed" if item.get("SuppressSending") else "ignored"
    return ProviderEvent(
        "postmark",
        kind,
        key=_text(_dict(item.get("Metadata")).get(KEY_FIELD)),
        provider_id=_text(item.get("MessageID")),
        recipient=_text(item.get("Recipient") or item.get("Email")),
        url=_text(item.get("OriginalLink")),
        status=_text(item.get("Type") or item.get("TypeCode")),
        detail=_text(item.get("Description") or item.get("Details")),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: object) -> dict[str, Any]:
    return _dict(value[0]) if isinstance(value, list) and value else {}


def _first_text(value: object) -> object:
    return value[0] if isinstance(value, list) and value else None


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:2000]


def _epoch(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(str(value)), UTC) if value is not None else None
    except (ValueError, OverflowError, OSError):
        return None
