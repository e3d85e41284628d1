"""Complaints and provider notifications: ARF feedback reports, JMRP, Amazon SES JSON.

A spam complaint arrives as an ARF report (RFC 5965: `multipart/report;
report-type=feedback-report`, sent by Yahoo, AOL, Comcast, Mail.ru, SES and most feedback
loops), as Microsoft's JMRP (the complained-about message attached, from a Hotmail address),
or as an Amazon SES notification whose body is JSON (by email from SNS). SES also reports
bounces that way. Each names, where it can, the complaining address, the mailbox the message
went from and the message's Message-ID; the unsubscribe token in the original's
List-Unsubscribe header names the contact even when the report hides their address.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import unquote

from cadenza.channels import bounce_text as bt
from cadenza.channels.bounce_reason import severity
from cadenza.channels.dsn import Bounce

Outcome = Literal["complaint", "bounce", "receipt"]
_NOT_COMPLAINTS = {"not-spam", "auth-failure", "dkim", "spf"}
_UNSUBSCRIBE_TOKEN = re.compile(r"subject=unsubscribe(?:%20|\+|\s)+([\w.-]+)", re.IGNORECASE)
_REDACTED = re.compile(r"^(?:redacted|anonymous|hidden|x+|\*+)@", re.IGNORECASE)
_JMRP_SUBJECT = re.compile(
    r"complaint about message from|client tos notification|abuse report|email feedback report"
    r"|spam (?:report|complaint)|feedback loop|fbl report",
    re.IGNORECASE,
)
_FBL_SENDER = re.compile(
    r"^(?:staff@hotmail\.com|scomp@aol\.net|(?:fbl|feedback|feedbackloop|complaints?)[\w.+-]*@)",
    re.IGNORECASE,
)
_TEXT_FIELD = re.compile(r"^Feedback-Type:\s*\S+", re.IGNORECASE | re.MULTILINE)
_JMRP_SENDER = re.compile(r"@(?:hotmail|outlook|msn|live)\.com$", re.IGNORECASE)


@dataclass(frozen=True)
class Feedback:
    """What a feedback report or a provider's notification says."""

    outcome: Outcome
    recipient: str | None = None
    sender: str | None = None
    original_message_id: str | None = None
    unsubscribe_token: str | None = None
    feedback_type: str | None = None
    bounce: Bounce | None = None
    evidence: str = ""


def parse_feedback(message: Message) -> Feedback | None:
    """The complaint (or SES bounce) this message reports, or None when it is neither."""
    if _has_part(message, "message/feedback-report") or _report_type(message) == "feedback-report":
        return _arf(message)
    notification = _ses_json(message)
    if notification is not None:
        return _ses(notification)
    if _attached(message) is None or _has_part(message, "message/delivery-status"):
        return None
    if _text_fields(message):
        return _arf(message)  # the report's fields written in a text part
    if _JMRP_SUBJECT.search(str(message.get("Subject", ""))) or _FBL_SENDER.match(
        parseaddr(str(message.get("From", "")))[1]
    ):
        return _jmrp(message)
    return None


def _report_type(message: Message) -> str:
    if message.get_content_type() != "multipart/report":
        return ""
    return str(message.get_param("report-type", "")).lower()


def _has_part(message: Message, kind: str) -> bool:
    return any(part.get_content_type() == kind for part in message.walk())


def _arf(message: Message) -> Feedback:
    fields = _report_fields(message)
    kind = fields.get("feedback-type", "abuse").lower().split()[0] if fields else "abuse"
    original = bt.original_headers(message)
    recipient = _address(fields.get("original-rcpt-to") or fields.get("removal-recipient"))
    recipient = recipient or _address(_first(bt.addresses_in(original, "To")))
    sender = _first(bt.addresses_in(original, "From")) or _address(fields.get("original-mail-from"))
    return Feedback(
        outcome="receipt" if kind in _NOT_COMPLAINTS else "complaint",
        recipient=recipient,
        sender=sender,
        original_message_id=_message_id(original),
        unsubscribe_token=_token(original),
        feedback_type=kind,
        evidence=f"an ARF feedback report (Feedback-Type: {kind})",
    )


def _jmrp(message: Message) -> Feedback:
    original = _attached(message)
    hidden = str(original.get("X-HmXmrOriginalRecipient", "")) if original is not None else ""
    recipient = _address(hidden) or _first(bt.addresses_in(original, "To"))
    return Feedback(
        outcome="complaint",
        recipient=recipient,
        sender=_first(bt.addresses_in(original, "From")),
        original_message_id=_message_id(original),
        unsubscribe_token=_token(original),
        feedback_type="abuse",
        evidence="a feedback loop's complaint (the message attached)",
    )


def _text_fields(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not bt.inside_original(message, part):
            text = bt.decoded(part)
            if _TEXT_FIELD.search(text):
                return text
    return ""


def _report_fields(message: Message) -> dict[str, str]:
    text = _text_fields(message) if not _has_part(message, "message/feedback-report") else ""
    if text:
        found = re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", text, re.MULTILINE)
        return {key.lower(): value.strip() for key, value in found}
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list):
                text = "\n".join(m.as_string() if isinstance(m, Message) else "" for m in payload)
            else:
                text = bt.decoded(part)
            found = re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", text, re.MULTILINE)
            return {key.lower(): value.strip() for key, value in found}
    return {}


def _attached(message: Message) -> Message | None:
    return bt.original_headers(message)


def _ses_json(message: Message) -> dict[str, Any] | None:
    for part in message.walk():
        if part.get_content_type() not in ("text/plain", "application/json"):
            continue
        found = _json_object(bt.decoded(part))
        if found is not None and "Message" in found and isinstance(found["Message"], str):
            found = _json_object(found["Message"])  # an SNS envelope around the notification
        if found is not None and _ses_type(found):
            return found
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start == -1:
        return None
    try:
        found, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _ses_type(notification: dict[str, Any]) -> str:
    return str(notification.get("notificationType") or notification.get("eventType") or "")


def _ses(notification: dict[str, Any]) -> Feedback:
    kind = _ses_type(notification)
    mail = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    sender = _address(str(mail.get("source", "")))
    message_id = _ses_message_id(mail)
    evidence = f"an Amazon SES {kind} notification"
    if kind == "Complaint":
        complaint = _dict(notification.get("complaint"))
        people = complaint.get("complainedRecipients") or [{}]
        recipient = _address(str(_dict(people[0]).get("emailAddress", "")))
        feedback_type = str(complaint.get("complaintFeedbackType") or "abuse").lower()
        outcome: Outcome = "receipt" if feedback_type in _NOT_COMPLAINTS else "complaint"
        return Feedback(
            outcome, recipient, sender, message_id, None, feedback_type, evidence=evidence
        )
    if kind in ("Bounce", "DeliveryDelay"):
        bounce = _ses_bounce(notification, kind, message_id)
        return Feedback("bounce", bounce.recipient, sender, message_id, None, bounce=bounce,
                        evidence=evidence)  # fmt: skip
    return Feedback("receipt", None, sender, message_id, evidence=evidence)


def _ses_bounce(notification: dict[str, Any], kind: str, message_id: str | None) -> Bounce:
    data = _dict(notification.get("bounce") or notification.get("deliveryDelay"))
    people = data.get("bouncedRecipients") or data.get("delayedRecipients") or [{}]
    first = _dict(people[0])
    diagnostic = str(first.get("diagnosticCode") or "") or None
    status = bt.find_status(str(first.get("status") or "")) or bt.find_status(diagnostic or "")
    bounce_type = str(data.get("bounceType") or "Transient")
    sub_type = str(data.get("bounceSubType") or "")
    delayed = kind == "DeliveryDelay"
    if bounce_type == "Permanent" and not delayed:
        judged = severity(status, diagnostic or "", delayed=False)
        kind_ = "hard" if judged.kind == "hard" or sub_type in ("General", "NoEmail") else "soft"
        reason = judged.reason if kind_ == judged.kind else f"permanent ({sub_type})"
    else:
        kind_, reason = "soft", f"{bounce_type.lower()} ({sub_type or 'unspecified'})"
    return Bounce(
        kind="hard" if kind_ == "hard" else "soft",
        recipient=_address(str(first.get("emailAddress", ""))),
        status=status,
        diagnostic=diagnostic,
        original_message_id=message_id,
        action="delayed" if delayed else "failed",
        reason=reason,
        evidence=f"an Amazon SES {kind} notification ({bounce_type}/{sub_type})",
    )


def _ses_message_id(mail: dict[str, Any]) -> str | None:
    common = _dict(mail.get("commonHeaders"))
    if common.get("messageId"):
        return _angle(str(common["messageId"]))
    for header in mail.get("headers") or []:
        item = _dict(header)
        if str(item.get("name", "")).lower() == "message-id":
            return _angle(str(item.get("value", "")))
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _angle(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    return value if value.startswith("<") else f"<{value}>"


def _address(value: str | None) -> str | None:
    found = re.search(bt.ADDRESS, value or "", re.IGNORECASE)
    if found is None or _REDACTED.match(found.group(0)):
        return None  # a feedback loop that hides the complaining address
    return found.group(0).lower()


def _first(items: list[str]) -> str | None:
    return items[0] if items else None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    found = re.search(r"<[^<>\s]+>", str(original.get("Message-ID", "")))
    return found.group(0) if found else None


def _token(original: Message | None) -> str | None:
    if original is None:
        return None
    found = _UNSUBSCRIBE_TOKEN.search(unquote(str(original.get("List-Unsubscribe", ""))))
    return found.group(1) if found else None
