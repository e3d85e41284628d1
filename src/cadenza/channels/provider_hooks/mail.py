"""Mail a provider received for us, as the raw message the inbound reader takes.

Mailgun routes (forwarded to a URL ending in `mime`) post `body-mime`; SendGrid Inbound Parse
with "POST the raw, full MIME message" posts `email`; SES receipt rules with an SNS action
put the message in `content` (base64 or UTF-8, as the action's encoding says); Postmark
posts JSON, with `RawEmail` when the server keeps it, else the parts the message is rebuilt
from.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def ses_received(message: dict[str, Any]) -> tuple[bytes, list[str]] | None:
    """The raw mail and envelope recipients of an SES `Received` notification, else None."""
    if message.get("notificationType") != "Received" or not message.get("content"):
        return None
    content = str(message["content"])
    action = (message.get("receipt") or {}).get("action") or {}
    if str(action.get("encoding", "")).upper() == "BASE64":
        try:
            raw = base64.b64decode(content, validate=False)
        except (ValueError, binascii.Error):
            raw = content.encode("utf-8", "replace")
    else:
        raw = content.encode("utf-8", "replace")
    recipients = (message.get("receipt") or {}).get("recipients") or []
    return raw, [str(r) for r in recipients if isinstance(r, str)]


def sendgrid_envelope(value: str | None) -> list[str]:
    """The `to` addresses of Inbound Parse's `envelope` field."""
    try:
        envelope = json.loads(value or "{}")
    except json.JSONDecodeError:
        return []
    to = envelope.get("to") if isinstance(envelope, dict) else None
    return [str(a) for a in to] if isinstance(to, list) else []


def postmark_raw(item: dict[str, Any]) -> bytes:
    """The raw message of a Postmark inbound webhook body."""
    if item.get("RawEmail"):
        return str(item["RawEmail"]).encode("utf-8", "replace")
    headers: dict[str, str] = {}
    for header in item.get("Headers") or []:
        if isinstance(header, dict) and header.get("Name") and header.get("Value") is not None:
            headers.setdefault(_name(header["Name"]), _value(header["Value"]))
    for name in ("From", "To", "Subject", "Date"):
        if item.get(name) and name not in headers:
            headers[name] = _value(item[name])
    headers.pop("", None)
    text = str(item.get("TextBody") or item.get("StrippedTextReply") or "")
    lines = [f"{name}: {value}" for name, value in headers.items() if name.lower() not in _PARTS]
    lines += ["MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"',
              "Content-Transfer-Encoding: 8bit", "", text]  # fmt: skip
    return "\r\n".join(lines).encode("utf-8", "replace")


_PARTS = {"mime-version", "content-type", "content-transfer-encoding"}  # ours describe the body


def _name(value: object) -> str:
    """A header name as RFC 5322 allows it (printable ASCII, no colon or space)."""
    return "".join(c for c in str(value) if 33 <= ord(c) <= 126 and c != ":")[:100]


def _value(value: object) -> str:
    """A header value on one line."""
    return " ".join(str(value).split())[:2000]


def postmark_recipients(item: dict[str, Any]) -> list[str]:
    """The addresses a Postmark inbound message was for."""
    found = [
        str(entry.get("Email"))
        for entry in item.get("ToFull") or []
        if isinstance(entry, dict) and entry.get("Email")
    ]
    if item.get("OriginalRecipient"):
        found.insert(0, str(item["OriginalRecipient"]))
    return list(dict.fromkeys(found))
