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
from typing import Any, Literal

from cadenza.channels.autoreply import is_auto_reply
from cadenza.channels.bounce_text import header_text
from cadenza.channels.dsn import Bounce, BounceKind, is_bounce_sender, is_receipt, parse_bounce
from cadenza.channels.email import html_to_text
from cadenza.channels.feedback import Feedback, parse_feedback
from cadenza.channels.forwarded import Forwarded, find_forwarded
from cadenza.channels.quoting import strip_quoted
from cadenza.channels.return_date import find_return_date, prefers_day_first

# "notice": a machine message that should move nothing (delivery or read receipt).
EmailKind = Literal["reply", "bounce", "auto_reply", "complaint", "unsubscribe", "notice"]
# What `cadenza inbound classify` calls each kind, bounces split by their severity.
Label = Literal[
    "reply",
    "hard_bounce",
    "soft_bounce",
    "auto_reply",
    "complaint",
    "unsubscribe",
    "receipt",
    "unknown",
]

_MSG_ID = re.compile(r"<[^<>\s]+>")
_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe(?:\s+(?P<token>[\w.-]+))?\s*$", re.IGNORECASE)
# A short answer that only asks to be left alone is an unsubscribe request.
_UNSUBSCRIBE_TEXT = re.compile(
    r"^\W*(?:please\s+)?(?:unsubscribe|remove\s+me|take\s+me\s+off|opt[- ]?out|stop\s+"
    r"(?:e-?mailing|sending|contacting)|abmelden|d[ée]sabonner|darse de baja)\b",
    re.IGNORECASE,
)
_READ_RECEIPT = re.compile(
    r"^(?:read|gelesen|lu|le[ií]do|letto|gelezen|not read|delivered|relayed)\s*:", re.I
)


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
    # The mailbox the message a complaint is about went from (for sender complaint rates).
    complaint_sender: str | None = None
    bounce_reason: str | None = None
    reasons: list[str] = field(default_factory=list)
    # A forward: what it says of the original it carries (its sender, recipients, id).
    forwarded: Forwarded | None = None

    @property
    def label(self) -> Label:
        """The kind as `cadenza inbound classify` names it."""
        if self.kind == "bounce":
            return "hard_bounce" if self.bounce_kind == "hard" else "soft_bounce"
        if self.kind == "notice":
            return "receipt"
        if self.kind == "reply" and not self.from_address:
            return "unknown"
        return self.kind

    @property
    def recipient(self) -> str | None:
        """The bounced or complaining address, for bounces and complaints only."""
        return self.bounced_recipient if self.kind in ("bounce", "complaint") else None

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
    dropped = _drop_unreadable_headers(message)
    base = _headers(message)
    if dropped:
        return _noting(_classify_message(message, base, raw, reference), dropped)
    return _classify_message(message, base, raw, reference)


def _noting(email: InboundEmail, dropped: list[str]) -> InboundEmail:
    note = f"unreadable header {', '.join(dropped)} left out"
    return replace(email, reasons=[*email.reasons, note])


def _drop_unreadable_headers(message: EmailMessage) -> list[str]:
    """Remove headers the stdlib cannot parse (it raises on some malformed ones)."""
    dropped = []
    for name in dict.fromkeys(message.keys()):
        try:
            for value in message.get_all(name, []):
                str(value)
        except Exception:  # IndexError, ValueError...: a defect of the header, not ours
            del message[name]
            dropped.append(name)
    return dropped


def _classify_message(
    message: EmailMessage, base: InboundEmail, raw: bytes, reference: date | None
) -> InboundEmail:
    """What a parsed message is; `base` holds its headers read."""
    feedback = parse_feedback(message)
    if feedback is not None:
        return _as_feedback(base, feedback, body_text(message))
    bounce = parse_bounce(message, raw_text=_raw_body(raw))
    if bounce is not None:
        return _as_bounce(base, bounce, body_text(message))
    if is_receipt(message) or (_READ_RECEIPT.match(base.subject) and is_bounce_sender(message)):
        return replace(base, kind="notice", text=body_text(message), reasons=["a receipt"])
    unsubscribe = _UNSUBSCRIBE_SUBJECT.match(base.subject)
    if unsubscribe:
        why = ["the subject asks to unsubscribe"]
        return replace(base, kind="unsubscribe", unsubscribe_token=unsubscribe["token"],
                       reasons=why)  # fmt: skip
    text = strip_quoted(body_text(message))
    automatic = is_auto_reply(message, text)
    if automatic:
        return _as_auto_reply(base, message, text, automatic, reference)
    if len(text) <= 200 and _UNSUBSCRIBE_TEXT.match(text) and base.from_address:
        why = ["the text asks to unsubscribe"]
        return replace(base, kind="unsubscribe", text=text, reasons=why)
    if not base.from_address:
        return replace(base, kind="reply", text=text, reasons=["no sender address: unknown"])
    forwarded = find_forwarded(base.subject, body_text(message))
    return replace(base, text=text, forwarded=forwarded, reasons=[
        "a forward of an earlier email" if forwarded else
        "a person's message (no bounce, report or autoresponder marker)"])  # fmt: skip


def _as_auto_reply(
    base: InboundEmail, message: EmailMessage, text: str, why: str, reference: date | None
) -> InboundEmail:
    sent_on = _sent_on(message)
    day_first = prefers_day_first(text, str(message.get("Content-Language", "")), base.from_address)
    # A subject may carry the date too: "Out of office until 12/7".
    stated = f"{base.subject}\n{text}"
    when = find_return_date(stated, reference or sent_on, day_first=day_first, not_before=sent_on)
    reasons = [f"an automatic answer: {why}"]
    reasons.append(f"back on {when.isoformat()}" if when else "no return date stated")
    return replace(base, kind="auto_reply", text=text, return_date=when, reasons=reasons)


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
        subject=header_text(message, "Subject"),
        text="",
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_MSG_ID.findall(str(message.get("References", ""))),
        to_addresses=[address.lower() for _, address in to if address],
    )


def _as_bounce(base: InboundEmail, bounce: Bounce, text: str) -> InboundEmail:
    reasons = [f"a bounce, read from {bounce.evidence}", f"{bounce.kind}: {bounce.reason}"]
    if bounce.status:
        reasons.append(f"status {bounce.status}, action {bounce.action}")
    reasons.append(f"failed recipient {bounce.recipient or 'not named'}")
    if bounce.diagnostic:
        reasons.append(f"the server said: {' '.join(bounce.diagnostic.split())[:200]}")
    return replace(
        base,
        kind="bounce",
        text=text,
        bounce_kind=bounce.kind,
        bounced_recipient=bounce.recipient,
        status=bounce.status,
        diagnostic=bounce.diagnostic,
        original_message_id=bounce.original_message_id,
        bounce_reason=bounce.reason,
        reasons=reasons,
    )


def _as_feedback(base: InboundEmail, feedback: Feedback, text: str) -> InboundEmail:
    if feedback.bounce is not None:
        bounced = _as_bounce(base, feedback.bounce, text)
        return replace(bounced, complaint_sender=feedback.sender)
    if feedback.outcome == "receipt":
        return replace(base, kind="notice", text=text, reasons=[feedback.evidence])
    reasons = [
        f"a spam complaint: {feedback.evidence}",
        f"complaining recipient {feedback.recipient or 'not named'}",
        f"about a message from {feedback.sender or 'an unnamed sender'}",
    ]
    return replace(
        base,
        kind="complaint",
        text=text,
        bounced_recipient=feedback.recipient,
        original_message_id=feedback.original_message_id,
        unsubscribe_token=feedback.unsubscribe_token,
        complaint_sender=feedback.sender,
        reasons=reasons,
    )


def _raw_body(raw: bytes) -> str:
    """The undecoded body after the header block (for reports whose parts cannot be found)."""
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    _, sep, body = text.partition("\n\n")
    return body if sep else ""


def _sent_on(message: EmailMessage) -> date | None:
    try:
        return parsedate_to_datetime(str(message.get("Date", ""))).date()
    except (TypeError, ValueError, IndexError):
        return None


def describe_email(raw: bytes) -> dict[str, Any]:
    """What `raw` is, as `cadenza inbound classify` says: kind, recipient, return date, why."""
    try:
        email = classify_email(raw)
    except Exception as exc:  # the stdlib's header parser crashes on some malformed headers
        reason = f"unreadable email: {type(exc).__name__}: {exc}"
        return {"kind": "unknown", "recipient": None, "return_date": None, "reasons": [reason]}
    when = email.return_date.isoformat() if email.return_date else None
    return {
        "kind": email.label,
        "recipient": email.recipient,
        "return_date": when,
        # Undecodable bytes of a broken message must not break the output.
        "reasons": [r.encode("utf-8", "replace").decode("utf-8") for r in email.reasons],
    }
