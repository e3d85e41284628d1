"""Classify an inbound email: a person's reply, a bounce, an auto-reply, an unsubscribe.

Matching it to what was sent is the caller's job: `InboundEmail.thread_ids()` lists the
Message-IDs it may answer, most specific first; the sender address is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Literal

from cadenza.channels.dsn import Bounce, BounceKind, is_receipt, parse_bounce
from cadenza.channels.email import html_to_text
from cadenza.channels.quoting import strip_quoted
from cadenza.channels.return_date import find_return_date

# "notice": a machine message that should move nothing (delivery or read receipt).
EmailKind = Literal["reply", "bounce", "auto_reply", "unsubscribe", "notice"]

_MSG_ID = re.compile(r"<[^<>\s]+>")
_AUTO_SUBJECT = re.compile(
    r"out of (?:the )?office|\bOOO\b|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response"
    r"|away from (?:the )?office|on vacation|vacation reply|abwesenheit|automatische antwort"
    r"|r[ée]ponse automatique|absence du bureau|respuesta autom[áa]tica|fuera de la oficina"
    r"|risposta automatica|automatisch antwoord|resposta autom[áa]tica",
    re.IGNORECASE,
)
_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe(?:\s+(?P<token>[\w.-]+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class InboundEmail:
    """What an inbound email is and what it says; bounce fields are set for bounces only."""

    kind: EmailKind
    from_address: str
    subject: str
    text: str
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    to_addresses: list[str] = field(default_factory=list)
    bounce_kind: BounceKind | None = None
    bounced_recipient: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    original_message_id: str | None = None
    return_date: date | None = None
    unsubscribe_token: str | None = None

    def thread_ids(self) -> list[str]:
        """Message-IDs this email answers or reports on, most specific first."""
        ids = [self.original_message_id, self.in_reply_to, *reversed(self.references)]
        return list(dict.fromkeys(i for i in ids if i))


def parse_message(raw: bytes) -> EmailMessage:
    """The message in `raw`, parsed with the modern (EmailMessage) API."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return message


def classify_email(raw: bytes, *, reference: date | None = None) -> InboundEmail:
    """Read `raw`; `reference` (default: its Date) is the day year-less return dates follow."""
    message = parse_message(raw)
    base = _headers(message)
    bounce = parse_bounce(message)
    if bounce is not None:
        return _as_bounce(base, bounce, body_text(message))
    if is_receipt(message):
        return replace(base, kind="notice", text=body_text(message))
    unsubscribe = _UNSUBSCRIBE_SUBJECT.match(base.subject)
    if unsubscribe:
        return replace(base, kind="unsubscribe", unsubscribe_token=unsubscribe["token"])
    text = strip_quoted(body_text(message))
    if is_auto_reply(message):
        when = find_return_date(text, reference or _sent_on(message))
        return replace(base, kind="auto_reply", text=text, return_date=when)
    return replace(base, text=text)


def is_auto_reply(message: EmailMessage) -> bool:
    """True for automatic answers: Auto-Submitted, X-Autoreply/-Autorespond, subjects."""
    submitted = str(message.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    if "X-Autoreply" in message or "X-Autorespond" in message:
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(str(message.get("Subject", ""))))


def body_text(message: EmailMessage) -> str:
    """The readable text of a message: its plain part, or its HTML part made plain."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
    text = str(content)
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def _headers(message: EmailMessage) -> InboundEmail:
    in_reply_to = _MSG_ID.findall(str(message.get("In-Reply-To", "")))
    message_id = _MSG_ID.findall(str(message.get("Message-ID", "")))
    to = getaddresses([str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])])
    return InboundEmail(
        kind="reply",
        from_address=parseaddr(str(message.get("From", "")))[1].lower(),
        subject=" ".join(str(message.get("Subject", "")).split()),
        text="",
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_MSG_ID.findall(str(message.get("References", ""))),
        to_addresses=[address.lower() for _, address in to if address],
    )


def _as_bounce(base: InboundEmail, bounce: Bounce, text: str) -> InboundEmail:
    return replace(
        base,
        kind="bounce",
        text=text,
        bounce_kind=bounce.kind,
        bounced_recipient=bounce.recipient,
        status=bounce.status,
        diagnostic=bounce.diagnostic,
        original_message_id=bounce.original_message_id,
    )


def _sent_on(message: EmailMessage) -> date | None:
    try:
        return parsedate_to_datetime(str(message.get("Date", ""))).date()
    except (TypeError, ValueError, IndexError):
        return None
