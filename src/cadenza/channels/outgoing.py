"""What the dispatcher hands to a channel, filled from an outbox row, and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """One rendered email; `key` is the outbox idempotency key (`enrollment:step:visit`)."""

    key: str
    sender: str
    to: str
    subject: str
    html: str
    sender_name: str | None = None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    # Message-ID of the email this one answers (the previous step's), and its thread.
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    track_opens: bool = False
    track_clicks: bool = False
    # A message to a contact: unsubscribe link in the footer and List-Unsubscribe headers.
    unsubscribe: bool = True
    contact_id: int | None = None
    message_row_id: int | None = None

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient: To, CC and BCC (BCC never appears in the headers)."""
        return [parseaddr(a)[1] for a in (self.to, *self.cc, *self.bcc)]

    @property
    def envelope_from(self) -> str:
        """The SMTP envelope sender (MAIL FROM): the bare sender address."""
        return parseaddr(self.sender)[1]


@dataclass(frozen=True, kw_only=True)
class OutgoingSms:
    """One SMS, or an MMS when `media` holds public URLs of images."""

    key: str
    sender: str
    to: str
    body: str
    media: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OutgoingVoicemail:
    """A ringless voicemail: a recorded message at `audio_url` dropped into the mailbox."""

    key: str
    sender: str
    to: str
    audio_url: str


@dataclass(frozen=True, kw_only=True)
class OutgoingWebhook:
    """A JSON payload for a URL; `key` becomes the `webhook-id` receivers deduplicate on."""

    key: str
    url: str
    payload: dict[str, Any]
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SendResult:
    """What the provider said: its id for the message (stored on the outbox row) and detail."""

    provider_id: str
    detail: str = ""
