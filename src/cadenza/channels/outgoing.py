"""What the dispatcher hands to a channel, filled from an outbox row, and what it gets back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

# A bare dot-atom address (no display name, quotes, comments or routes): the stdlib's parser
# gives it back unchanged, so the common case skips that parser (slow, and on the hot path).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
SIMPLE_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def bare_address(value: str) -> str:
    """The addr-spec of `value` (`Ana <ana@x.example>` gives `ana@x.example`)."""
    return value if SIMPLE_ADDRESS.fullmatch(value) else _parsed(value)


@lru_cache(maxsize=1024)
def _parsed(value: str) -> str:
    return parseaddr(value)[1]


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
    # The links clicks are tracked on (the ones its template wrote); None: every link.
    tracked_links: list[str] | None = None
    # A message to a contact: unsubscribe link in the footer and List-Unsubscribe headers.
    unsubscribe: bool = True
    contact_id: int | None = None
    message_row_id: int | None = None
    # The Message-ID the outbox stored for `key`; derived from `key` and `sender` when None.
    message_id: str | None = None

    @property
    def recipients(self) -> list[str]:
        """Every envelope recipient: To, CC and BCC (BCC never appears in the headers)."""
        return [bare_address(a) for a in (self.to, *self.cc, *self.bcc)]

    @property
    def envelope_from(self) -> str:
        """The SMTP envelope sender (MAIL FROM): the bare sender address."""
        return bare_address(self.sender)


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
