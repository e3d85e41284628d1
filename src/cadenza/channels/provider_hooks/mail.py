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
from email.message import EmailMessage
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
    message = EmailMessage()
    for header in item.get("Headers") or []:
        if isinstance(header, dict) and header.get("Name") and header.get("Value") is not None:
            try:
                message[str(header["Name"])] = str(header["Value"])
            except ValueError:
                continue  # a header the stdlib cannot carry: the reader does without it
    for name, field in (("From", "From"), ("To", "To"), ("Subject", "Subject"), ("Date", "Date")):
        if item.get(field) and name not in message:
            message[name] = str(item[field])
    message.set_content(str(item.get("TextBody") or item.get("StrippedTextReply") or ""))
    if item.get("HtmlBody"):
        message.add_alternative(str(item["HtmlBody"]), subtype="html")
    return message.as_bytes()


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
