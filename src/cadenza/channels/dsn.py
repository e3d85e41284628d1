"""Bounces: read a delivery status notification (RFC 3464) or a mail system's plain-text bounce.

A report's per-recipient fields come first; when its parts cannot be found (a boundary that
does not match, no `message/delivery-status` part) the same fields and the failure are read
from the text. How bad a failure is comes from `bounce_reason`. The original message's
Message-ID comes from the returned message or headers, so the bounce can be matched to what
was sent even when the recipient address was rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

from cadenza.channels import bounce_text as bt
from cadenza.channels.bounce_reason import BounceKind, severity

__all__ = ["Bounce", "BounceKind", "is_bounce_sender", "is_receipt", "parse_bounce"]


@dataclass(frozen=True)
class Bounce:
    """One failed (or delayed) recipient of a message we sent."""

    kind: BounceKind
    recipient: str | None
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    action: str
    reason: str = ""
    evidence: str = ""


_BOUNCE_LOCAL = re.compile(
    r"^(?:mailer[-_]?daemon|mail[-_]?daemon|post[-_]?master|mdaemon|mail[-_]?delivery"
    r"|mailerdaemon|mailadmin|bounces?|nobody|delivery[-_]?(?:status|notification))$",
    re.IGNORECASE,
)
_BOUNCE_NAME = re.compile(
    r"mail delivery (?:system|subsystem|service)|mailer[- ]daemon|postmaster|mail administrator"
    r"|delivery status notification|mail delivery failure|mdaemon",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned to sender|returned mail|delivery status notification"
    r"|delivery (?:has )?fail|delivery failure|mail delivery|failure notice|could not be delivered"
    r"|not (?:be )?delivered|delivery problem|delivery report|nondeliverable|non-delivery"
    r"|message (?:not delivered|undeliverable|bounced)|delivery notification|mail system error"
    r"|permanent (?:delivery )?(?:failure|error)|warning: could not send|delayed mail"
    r"|delivery delayed|delivery (?:is )?delayed|has been delayed|not yet been delivered"
    r"|non remis|non distribuable|[ée]chec de (?:la )?(?:remise|distribution)|remise diff[ée]r"
    r"|unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|zustellungsbericht|unzustellbarkeit"
    r"|non recapitabile|mancato recapito|impossibile recapitare|consegna non riuscita"
    r"|no se puede entregar|no entregado|no se pudo entregar|error de entrega|devuelto"
    r"|n[aã]o (?:foi )?entregue|n[aã]o (?:foi )?poss[ií]vel entregar|falha na entrega"
    r"|onbestelbaar|niet bezorgd|kan niet worden bezorgd|niet afgeleverd"
    r"|niedostarczon|nie (?:mo[zż]na|zosta[lł]a) dostarczy|zwrot wiadomo"
    r"|ej levererat|kunne ikke leveres|ikke leveret|nedoručitel|nedoru[cč]en"
    r"|недоставлен|не доставлен|ошибка доставки|退信|配信不能|配送エラー|未送達|投递失败",
    re.IGNORECASE,
)
_DELAY = re.compile(
    r"delay|warning|still being retried|not yet been delivered|will (?:continue|keep) trying"
    r"|will be retried|will retry|verzögert|diff[ée]r[ée]|ritardat|retrasad|atrasad|vertraagd",
    re.IGNORECASE,
)
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z-]+):[ \t]*(.*(?:\n[ \t]+.*)*)", re.MULTILINE)
_SENT = ("failed", "delayed")
# RFC 3464's part, RFC 6533's internationalized one, and the text/ form older systems use.
_STATUS_PARTS = (
    "message/delivery-status",
    "message/global-delivery-status",
    "text/delivery-status",
)


def parse_bounce(message: Message, *, raw_text: str = "") -> Bounce | None:
    """The bounce this message reports, or None when it reports no failure (or is no bounce).

    `raw_text`: the message's undecoded body, read when its MIME parts cannot be found.
    """
    reported = _report_fields(message)
    if reported:
        chosen = _choose(reported)
        return _from_fields(message, chosen, "its delivery status report") if chosen else None
    text = _readable_text(message, raw_text)
    if not (_is_report(message, "delivery-status") or looks_like_bounce(message)):
        return None
    fields = _fields_in_text(text)
    if not fields and not _reads_as_failure(message, text):
        return None  # a mail system's own mailbox writing about something else
    chosen = _choose(fields)
    if chosen is not None:
        return _from_fields(message, chosen, "delivery status fields in its text", text)
    if fields and not chosen:
        return None  # the text reports a delivery, not a failure
    return _from_text(message, text)


def is_receipt(message: Message) -> bool:
    """True for machine reports that are not failures: delivery and read receipts."""
    return _is_report(message, "delivery-status") or _is_report(message, "disposition-notification")


def is_bounce_sender(message: Message) -> bool:
    """True when the From is a mail system's own mailbox (or empty: the null sender)."""
    raw_from = str(message.get("From", "")).strip()
    name, address = parseaddr(raw_from)
    if raw_from in ("", "<>") or (not address and not name):
        return "From" in message or str(message.get("Return-Path", "")).strip() == "<>"
    local = address.split("@")[0]
    return bool(_BOUNCE_LOCAL.match(local)) or bool(_BOUNCE_NAME.search(name or raw_from))


def looks_like_bounce(message: Message) -> bool:
    """A mail system's sender, or a bounce's subject that is not a person's reply to one."""
    subject = bt.header_text(message, "Subject")
    if subject.lower().startswith(("re:", "aw:", "sv:", "antw:", "r:", "réf:", "odp:")):
        return False
    return is_bounce_sender(message) or bool(_BOUNCE_SUBJECT.search(subject))


def _reads_as_failure(message: Message, text: str) -> bool:
    subject = str(message.get("Subject", ""))
    if _is_report(message, "delivery-status") or _BOUNCE_SUBJECT.search(subject):
        return True
    own = bt.report_text(text)
    return bt.find_status(own) is not None or bool(bt.FAILURE_WORDS.search(own))


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == report_type
    )


def _report_fields(message: Message) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    for part in message.walk():
        if part.get_content_type() not in _STATUS_PARTS:
            continue
        payload = part.get_payload()
        groups = payload if isinstance(payload, list) else []
        if part.get_content_type() != "message/delivery-status":
            # Parsed as one message (global, text/ forms): its blocks are in its text.
            text = "\n\n".join(g.as_string() for g in groups if isinstance(g, Message))
            blocks.extend(_fields_in_text(text or bt.decoded(part)))
            continue
        for group in groups:
            if isinstance(group, Message):
                fields = {k.lower(): " ".join(str(v).split()) for k, v in group.items()}
                if "action" in fields or "status" in fields:
                    blocks.append(fields)
        if not groups and isinstance(payload, str):
            blocks.extend(_fields_in_text(payload))
    return blocks


def _fields_in_text(text: str) -> list[dict[str, str]]:
    """Per-recipient DSN fields written out in text, one block per blank-line group."""
    blocks = []
    for chunk in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        fields = {k.lower(): " ".join(v.split()) for k, v in _FIELD.findall(chunk)}
        if "action" in fields and ("final-recipient" in fields or "original-recipient" in fields):
            blocks.append(fields)
    return blocks


def _action(fields: dict[str, str]) -> str:
    # "failed (bad destination mailbox address)": the comment is not the action.
    words = fields.get("action", "").lower().split()
    return words[0] if words else ""


def _choose(blocks: list[dict[str, str]]) -> dict[str, str] | None:
    for wanted in _SENT:
        for fields in blocks:
            if _action(fields) == wanted:
                return fields
    for fields in blocks:  # no Action, or one we do not know: a failing status decides
        status = bt.find_status(fields.get("status", "")) or ""
        if _action(fields) not in ("delivered", "relayed", "expanded") and status[:1] in "45":
            return {**fields, "action": "delayed" if status[0] == "4" else "failed"}
    return None


def _from_fields(
    message: Message, fields: dict[str, str], evidence: str, text: str | None = None
) -> Bounce:
    text = bt.report_text(text if text is not None else bt.plain_text(message))
    diagnostic = _typed_value(fields.get("diagnostic-code")) or None
    status = _status(fields.get("status"), diagnostic)
    action = _action(fields)
    cause = diagnostic or _near_status(text, status) or bt.report_text(text)
    judged = severity(status, cause, delayed=action == "delayed")
    return Bounce(
        kind=judged.kind,
        recipient=_recipient(message, fields) or _recipient_in_text(message, text),
        status=status,
        diagnostic=diagnostic or _near_status(text, status),
        original_message_id=_original_message_id(message),
        action=action or "failed",
        reason=judged.reason,
        evidence=evidence,
    )


def _from_text(message: Message, text: str) -> Bounce:
    own = bt.report_text(text)
    status = bt.find_status(own)
    subject = str(message.get("Subject", ""))
    delayed = bool(_DELAY.search(subject)) or bool(
        re.search(
            r"THIS IS A WARNING ONLY|will (?:continue|keep) trying|not yet been delivered",
            own,
            re.I,
        )
    )
    diagnostic = _near_status(own, status)
    judged = severity(status, diagnostic or own, delayed=delayed)
    return Bounce(
        kind=judged.kind,
        recipient=_recipient_in_text(message, own) or _recipient_in_text(message, text),
        status=status,
        diagnostic=diagnostic,
        original_message_id=_original_message_id(message),
        action="delayed" if delayed else "failed",
        reason=judged.reason,
        evidence="its text (a mail system's sender or bounce subject)",
    )


def _status(field: str | None, diagnostic: str | None) -> str | None:
    status = bt.find_status(field or "")
    better = bt.find_status(diagnostic or "")
    # "5.0.0" says little when the server's reply names "5.1.1".
    if better and (status is None or (status.endswith(".0.0") and better[0] == status[0])):
        return better
    return status


def _near_status(text: str, status: str | None) -> str | None:
    if not status:
        return None
    found = bt.STATUS.search(text) or bt.SMTP_CODE.search(text)
    return bt.line_around(text, found.group(0)) if found else None


def _recipient(message: Message, fields: dict[str, str]) -> str | None:
    original = _address_of(fields.get("original-recipient"))
    final = _address_of(fields.get("final-recipient"))
    sent_to = set(bt.addresses_in(bt.original_headers(message), "To", "Cc"))
    for candidate in (original, final):
        if candidate and candidate in sent_to:
            return candidate  # the address we sent to, whatever the server rewrote it to
    return original or final


def _address_of(field: str | None) -> str | None:
    found = re.search(bt.ADDRESS, _typed_value(field) or "", re.IGNORECASE)
    if found is None or found.group(0).upper().startswith("IMCEA"):
        return None  # Exchange's encapsulated X.500 or fax addresses are nobody's mailbox
    return found.group(0).lower()


def _recipient_in_text(message: Message, text: str) -> str | None:
    ours = set(bt.addresses_in(message, "From", "To", "Return-Path", "Sender", "Reply-To"))
    original = bt.original_headers(message)
    ours.update(bt.addresses_in(original, "From", "Sender", "Reply-To", "Return-Path"))
    failed = (message.get("X-Failed-Recipients") or "").strip()  # Exim names it in a header
    if failed:
        return failed.split(",")[0].strip().strip("<>").lower() or None
    found = bt.failed_recipient(text, ours)
    if found:
        return found
    sent_to = bt.addresses_in(original, "To")
    return sent_to[0] if sent_to else bt.any_recipient(text, ours)


def _typed_value(field: str | None) -> str | None:
    # "rfc822; jane@corp.example" and "smtp; 550 5.1.1 …" carry a type before the value.
    if not field:
        return None
    kind, sep, value = field.partition(";")
    return (value if sep else kind).strip() or None


def _original_message_id(message: Message) -> str | None:
    original = bt.original_headers(message)
    if original is not None and original.get("Message-ID"):
        found = re.search(r"<[^<>\s]+>", str(original["Message-ID"]))
        if found:
            return found.group(0)
    match = _MESSAGE_ID.search(bt.plain_text(message) or "")
    return match.group(1) if match else None


def _readable_text(message: Message, raw_text: str) -> str:
    text = bt.plain_text(message)
    if message.is_multipart() and not isinstance(message.get_payload(), list):
        return raw_text or text
    if not text.strip() or (message.is_multipart() and not message.get_payload()):
        return raw_text or text
    return text
