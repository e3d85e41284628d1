"""Bounces: read a delivery status notification (RFC 3464) or a server's plain-text bounce.

5.x.x statuses are hard bounces (the address will not work), 4.x.x soft (it may later).
The original message's Message-ID comes from the returned message or headers, so the
bounce can be matched to what was sent even when the recipient address was rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Literal

BounceKind = Literal["hard", "soft"]


@dataclass(frozen=True)
class Bounce:
    """One failed (or delayed) recipient of a message we sent."""

    kind: BounceKind
    recipient: str | None
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    action: str


_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned to sender|returned mail|delivery status notification|delivery fail"
    r"|mail delivery failed|failure notice|delivery has failed|could not be delivered"
    r"|non remis|unzustellbar|nicht zustellbar",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"delay|delayed|warning", re.IGNORECASE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
_ADDRESS = re.compile(r"<?([\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+)>?")
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def parse_bounce(message: EmailMessage) -> Bounce | None:
    """The bounce this message reports, or None when it reports no failure (or is no bounce)."""
    if _is_report(message, "delivery-status"):
        return _from_report(message)
    if _looks_like_bounce(message):
        return _from_text(message)
    return None


def is_receipt(message: EmailMessage) -> bool:
    """True for machine reports that are not failures: delivery and read receipts."""
    return _is_report(message, "delivery-status") or _is_report(message, "disposition-notification")


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == report_type
    )


def _from_report(message: EmailMessage) -> Bounce | None:
    recipients = _recipient_fields(message)
    chosen = next((r for r in recipients if r.get("action") == "failed"), None) or next(
        (r for r in recipients if r.get("action") == "delayed"), None
    )
    if chosen is None:
        return None  # delivered, relayed or expanded: a receipt, not a bounce
    status = chosen.get("status")
    action = chosen.get("action", "failed")
    return Bounce(
        kind=_kind(status, action),
        recipient=_typed_value(chosen.get("final-recipient") or chosen.get("original-recipient")),
        status=status,
        diagnostic=_typed_value(chosen.get("diagnostic-code")),
        original_message_id=_original_message_id(message),
        action=action,
    )


def _recipient_fields(message: EmailMessage) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        groups = payload if isinstance(payload, list) else []
        for group in groups:
            if not isinstance(group, Message):
                continue
            fields = {k.lower(): " ".join(str(v).split()) for k, v in group.items()}
            if "action" in fields:
                fields["action"] = fields["action"].lower()
                blocks.append(fields)
    return blocks


def _from_text(message: EmailMessage) -> Bounce:
    text = _plain_text(message)
    status_match = _STATUS.search(text)
    code_match = _SMTP_CODE.search(text)
    status = status_match.group(1) if status_match else None
    delayed = bool(_DELAY_SUBJECT.search(str(message.get("Subject", ""))))
    action = "delayed" if delayed else "failed"
    if status is None and code_match:
        status = f"{code_match.group(1)[0]}.0.0"
    return Bounce(
        kind=_kind(status, action),
        recipient=_first_foreign_address(text, message),
        status=status,
        diagnostic=_line_around(text, status_match or code_match),
        original_message_id=_original_message_id(message),
        action=action,
    )


def _looks_like_bounce(message: EmailMessage) -> bool:
    sender = parseaddr(str(message.get("From", "")))[1]
    subject = str(message.get("Subject", ""))
    return bool(_BOUNCE_SENDER.match(sender)) or bool(
        _BOUNCE_SUBJECT.search(subject) and not subject.lower().startswith(("re:", "aw:"))
    )


def _kind(status: str | None, action: str) -> BounceKind:
    if status and status[0] in "45":
        return "hard" if status[0] == "5" else "soft"
    return "soft" if action == "delayed" else "hard"


def _typed_value(field: str | None) -> str | None:
    # "rfc822; jane@corp.example" and "smtp; 550 5.1.1 …" carry a type before the value.
    if not field:
        return None
    kind, sep, value = field.partition(";")
    return (value if sep else kind).strip() or None


def _original_message_id(message: EmailMessage) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(first, Message) and first.get("Message-ID"):
                return str(first["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            headers = HeaderParser().parsestr(text)
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    match = _MESSAGE_ID.search(_plain_text(message))
    return match.group(1) if match else None


def _plain_text(message: EmailMessage) -> str:
    chunks = []
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_attachment():
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                chunks.append(raw.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(chunks)


def _first_foreign_address(text: str, message: EmailMessage) -> str | None:
    # The bounce's own parties (the daemon, our sender it returns to) are not the recipient.
    headers = [str(message.get(name, "")) for name in ("From", "To")]
    ours = {address.lower() for _, address in getaddresses(headers)}
    for match in _ADDRESS.finditer(text):
        address = match.group(1).lower()
        if address not in ours and not _BOUNCE_SENDER.match(address):
            return address
    return None


def _line_around(text: str, match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return " ".join(text[start : end if end != -1 else None].split()) or None
