"""Build the MIME message of an outgoing email: parts, headers, threading, tracking, footer."""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from urllib.parse import quote

# inscriptis ships no type information; its two names used here are annotated below.
from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]

from cadenza.channels.errors import InvalidMessage
from cadenza.channels.outgoing import OutgoingEmail
from cadenza.channels.tracking import (
    click_url,
    open_pixel_url,
    rewrite_links,
    unsubscribe_token,
    unsubscribe_url,
)
from cadenza.core.compliance import message_id_for as core_message_id_for
from cadenza.core.compliance import reply_subject, sender_domain
from cadenza.settings import Settings

__all__ = ["build_email", "html_to_text", "message_id_for", "reply_subject"]

_TEXT_CONFIG = ParserConfig(display_links=True)
# Quoted-printable keeps every line short and 7-bit, whatever the server supports.
_WIRE = compat32.clone(linesep="\r\n")  # SMTP line endings, as the message is sent
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_ADDR_SPEC = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")


def build_email(msg: OutgoingEmail, settings: Settings, *, date: datetime | None = None) -> Message:
    """The complete message for `msg`; pass `date` (the clock's now) to set the Date header."""
    markup = msg.html
    if msg.track_clicks:
        markup = rewrite_links(
            markup, lambda url: click_url(settings.base_url, msg.key, url, settings.secret_key)
        )
    unsubscribe = (
        unsubscribe_url(settings.base_url, msg.key, msg.contact_id, settings.secret_key)
        if msg.unsubscribe
        else None
    )
    text = html_to_text(markup).rstrip() + _text_footer(unsubscribe, settings.postal_address)
    markup = _insert_before_body_end(markup, _html_footer(unsubscribe, settings.postal_address))
    if msg.track_opens:
        pixel = open_pixel_url(settings.base_url, msg.key, settings.secret_key)
        markup = _insert_before_body_end(markup, _pixel(pixel))
    # The legacy (compat32) classes build the same MIME several times faster than the
    # policy-based API, and building is on the sending hot path.
    email = MIMEMultipart("alternative", policy=_WIRE)
    _set_headers(email, msg, settings, date)
    for body, subtype in ((text + "\n", "plain"), (markup, "html")):
        part = MIMEText(body, subtype, _QP_UTF8)  # type: ignore[arg-type]  # a Charset works
        del part["MIME-Version"]  # once, on the message itself, is enough
        email.attach(part)
    return email


def message_id_for(key: str, sender: str) -> str:
    """The Message-ID of the email with idempotency key `key` (the one the outbox stores)."""
    _domain(sender)  # a sender with no domain cannot send: refuse it here, clearly
    return core_message_id_for(key, sender)


def html_to_text(markup: str) -> str:
    """The plain-text rendering of an HTML body, links shown as `[text](url)`."""
    text: str = get_text(markup, _TEXT_CONFIG)
    return text.strip("\n")


def _set_headers(
    email: Message, msg: OutgoingEmail, settings: Settings, date: datetime | None
) -> None:
    email["From"] = _address(msg.sender, msg.sender_name)
    email["To"] = _address(msg.to)
    if msg.cc:
        email["Cc"] = ", ".join(_address(a) for a in msg.cc)
    if msg.reply_to:
        email["Reply-To"] = _address(msg.reply_to)
    subject = reply_subject(msg.subject) if msg.in_reply_to else msg.subject
    email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    if date is not None:
        email["Date"] = format_datetime(date)
    email["Message-ID"] = message_id_for(msg.key, msg.sender)
    if msg.in_reply_to:
        parent = _angle(msg.in_reply_to)
        email["In-Reply-To"] = parent
        email["References"] = " ".join(_thread(msg.references, parent))
    if msg.unsubscribe:
        _set_unsubscribe_headers(email, msg, settings)


def _set_unsubscribe_headers(email: Message, msg: OutgoingEmail, settings: Settings) -> None:
    url = unsubscribe_url(settings.base_url, msg.key, msg.contact_id, settings.secret_key)
    mailbox = parseaddr(msg.reply_to or msg.sender)[1]
    # The token in the subject lets the intake tell whose unsubscribe it is (see inbound).
    subject = quote(
        f"unsubscribe {unsubscribe_token(msg.key, msg.contact_id, settings.secret_key)}"
    )
    value = f"<{url}>, <mailto:{mailbox}?subject={subject}>"
    # Folded after its comma only: a URL split into encoded words is no link to any client.
    email["List-Unsubscribe"] = Header(
        value, header_name="List-Unsubscribe", continuation_ws=" "
    ).encode(splitchars=",", maxlinelen=998)
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _thread(references: list[str], parent: str) -> list[str]:
    seen: list[str] = []
    for ref in [*references, parent]:
        ref = _angle(ref)
        if ref in seen:
            seen.remove(ref)
        seen.append(ref)
    return seen


def _angle(message_id: str) -> str:
    bare = message_id.strip().strip("<>")
    return f"<{bare}>"


def _address(value: str, name: str | None = None) -> str:
    found = getaddresses([value])
    display, addr = found[0] if len(found) == 1 else ("", "")
    if not _ADDR_SPEC.fullmatch(addr) or not addr.isascii():
        raise InvalidMessage(f"not an email address: {value!r}")
    return formataddr((name or display, addr), charset="utf-8")


def _domain(sender: str) -> str:
    domain = sender_domain(sender)
    if domain is None:
        raise InvalidMessage(f"sender {sender!r} has no domain")
    return domain


def _html_footer(unsubscribe: str | None, postal_address: str) -> str:
    lines = []
    if postal_address:
        lines.append(f"<p>{html.escape(postal_address).replace(chr(10), '<br>')}</p>")
    if unsubscribe:
        href = html.escape(unsubscribe, quote=True)
        lines.append(f'<p><a href="{href}">Unsubscribe</a> from these emails.</p>')
    if not lines:
        return ""
    return '<div style="margin-top:24px;font-size:12px;color:#777777">' + "".join(lines) + "</div>"


def _text_footer(unsubscribe: str | None, postal_address: str) -> str:
    lines = [postal_address] if postal_address else []
    if unsubscribe:
        lines.append(f"Unsubscribe: {unsubscribe}")
    return "\n\n" + "\n".join(lines) if lines else ""


def _pixel(url: str) -> str:
    src = html.escape(url, quote=True)
    return f'<img src="{src}" width="1" height="1" alt="" style="display:block;border:0">'


def _insert_before_body_end(markup: str, fragment: str) -> str:
    ends = list(_BODY_END.finditer(markup))
    if not ends:
        return markup + fragment
    at = ends[-1].start()
    return markup[:at] + fragment + markup[at:]
