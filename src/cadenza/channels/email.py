"""Build the MIME message of an outgoing email: parts, headers, threading, tracking, footer.

The message is written straight to the bytes SMTP carries (CRLF line endings, 7-bit):
building is on the sending hot path, and the stdlib's `email` package re-parses and re-folds
every header and scans every body for its boundary, which costs more than the SMTP exchange.
The layout is the one `email.mime` produces: multipart/alternative, a text/plain part and a
text/html part, both UTF-8 and quoted-printable. Headers that are not short plain ASCII are
still folded by the stdlib's compat32 policy.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.header import Header
from email.policy import compat32
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache

# inscriptis ships no type information; its two names used here are annotated below.
from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]

from cadenza.channels.errors import InvalidMessage
from cadenza.channels.outgoing import SIMPLE_ADDRESS, OutgoingEmail, bare_address
from cadenza.channels.tracking import (
    click_url,
    open_pixel_url,
    rewrite_links,
    unsubscribe_link,
    unsubscribe_token,
)
from cadenza.core.messages import message_id_for as core_message_id_for
from cadenza.core.messages import reply_subject, sender_domain
from cadenza.settings import Settings

__all__ = ["MimeEmail", "build_email", "html_to_text", "message_id_for", "reply_subject"]

_TEXT_CONFIG = ParserConfig(display_links=True)
_WIRE = compat32.clone(linesep="\r\n")  # SMTP line endings, as the message is sent
_CRLF = "\r\n"
_MAX_HEADER_LINE = 78  # RFC 5322's recommended line length, compat32's default
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_ADDR_SPEC = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")
_LINE_BREAKS = re.compile(r"\r\n?")
_PART = (
    'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)
_PLAIN_PART, _HTML_PART = _PART.format("plain"), _PART.format("html")


@dataclass(frozen=True, slots=True)
class MimeEmail:
    """A built email: its Message-ID and the exact bytes handed to the SMTP server."""

    message_id: str
    data: bytes

    def as_bytes(self) -> bytes:
        """The message as sent: CRLF line endings, every line 7-bit and at most 998 long."""
        return self.data


def build_email(
    msg: OutgoingEmail, settings: Settings, *, date: datetime | None = None
) -> MimeEmail:
    """The complete message for `msg`; pass `date` (the clock's now) to set the Date header."""
    message_id = msg.message_id or message_id_for(msg.key, msg.sender)
    token = (
        unsubscribe_token(msg.key, msg.contact_id, settings.secret_key) if msg.unsubscribe else None
    )
    unsubscribe = unsubscribe_link(settings.base_url, token) if token else None
    text, markup = _bodies(msg, settings, unsubscribe)
    # Both parts are quoted-printable, where "==" cannot occur ("=" always starts "=XX" or a
    # soft line break): a boundary holding "==" never needs the stdlib's search of the bodies.
    # Drawn from the key, it makes a resend the same bytes (the Date header aside).
    boundary = f"=={hashlib.blake2b(msg.key.encode(), digest_size=16).hexdigest()}=="
    data = "".join(
        (
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
            "MIME-Version: 1.0\r\n",
            *_headers(msg, date, message_id, unsubscribe, token),
            f"\r\n--{boundary}\r\n",
            _PLAIN_PART,
            _quoted_printable(text + "\n"),
            f"\r\n--{boundary}\r\n",
            _HTML_PART,
            _quoted_printable(markup),
            f"\r\n--{boundary}--\r\n",
        )
    )
    return MimeEmail(message_id, data.encode("ascii"))


def message_id_for(key: str, sender: str) -> str:
    """The Message-ID of the email with idempotency key `key` (the one the outbox stores)."""
    _domain(sender)  # a sender with no domain cannot send: refuse it here, clearly
    return core_message_id_for(key, sender)


def html_to_text(markup: str) -> str:
    """The plain-text rendering of an HTML body, links shown as `[text](url)`."""
    text: str = get_text(markup, _TEXT_CONFIG)
    return text.strip("\n")


def _bodies(msg: OutgoingEmail, settings: Settings, unsubscribe: str | None) -> tuple[str, str]:
    """The plain-text and HTML bodies: links tracked, footer added, pixel last."""
    markup = msg.html
    if msg.track_clicks:
        base, secret = settings.base_url, settings.secret_key
        markup = rewrite_links(
            markup, lambda url: click_url(base, msg.key, url, secret), only=msg.tracked_links
        )
    text = html_to_text(markup).rstrip() + _text_footer(unsubscribe, settings.postal_address)
    fragment = _html_footer(unsubscribe, settings.postal_address)
    if msg.track_opens:
        fragment += _pixel(open_pixel_url(settings.base_url, msg.key, settings.secret_key))
    return text, _insert_before_body_end(markup, fragment)


def _quoted_printable(body: str) -> str:
    """`body` as UTF-8 quoted-printable with CRLF line endings (lines of at most 76)."""
    body = _LINE_BREAKS.sub("\n", body)
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")
    return encoded.replace("\n", _CRLF)


def _headers(
    msg: OutgoingEmail,
    date: datetime | None,
    message_id: str,
    unsubscribe: str | None,
    token: str | None,
) -> list[str]:
    lines = [_fold("From", _address(msg.sender, msg.sender_name)), _fold("To", _address(msg.to))]
    if msg.cc:
        lines.append(_fold("Cc", ", ".join(_address(a) for a in msg.cc)))
    if msg.reply_to:
        lines.append(_fold("Reply-To", _address(msg.reply_to)))
    subject = reply_subject(msg.subject) if msg.in_reply_to else msg.subject
    lines.append(_fold("Subject", subject))
    if date is not None:
        lines.append(f"Date: {format_datetime(date)}\r\n")
    lines.append(_fold("Message-ID", message_id))
    if msg.in_reply_to:
        parent = _angle(msg.in_reply_to)
        lines.append(_fold("In-Reply-To", parent))
        lines.append(_fold("References", " ".join(_thread(msg.references, parent))))
    if unsubscribe is not None and token is not None:
        lines.append(_unsubscribe_headers(msg, unsubscribe, token))
    return lines


def _fold(name: str, value: str) -> str:
    """One header line with its CRLF; long, non-ASCII or multi-line values fold as compat32's."""
    try:
        if not value.isascii():  # RFC 2047 encoded words
            encoded = Header(value, "utf-8", header_name=name).encode(
                linesep=_CRLF, maxlinelen=_MAX_HEADER_LINE
            )
            return f"{name}: {encoded}\r\n"
        if len(name) + 2 + len(value) > _MAX_HEADER_LINE or "\n" in value or "\r" in value:
            return _WIRE.fold(name, value)
    except HeaderParseError:  # a line break followed by "Name:": it would add a header
        raise InvalidMessage(f"{name} would add a header of its own: {value!r}") from None
    return f"{name}: {value}\r\n"


def _unsubscribe_headers(msg: OutgoingEmail, url: str, token: str) -> str:
    mailbox = bare_address(msg.reply_to or msg.sender)
    # The token in the subject lets the intake tell whose unsubscribe it is (see inbound).
    # A token is base64url and ".", which URLs carry as they are: only the space is quoted.
    subject = f"unsubscribe%20{token}"
    # Folded after its comma only: a URL split into encoded words is no link to any client.
    return (
        f"List-Unsubscribe: <{url}>,\r\n <mailto:{mailbox}?subject={subject}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )


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
    """`value` as a header address (`name` the display name), or InvalidMessage."""
    if name is None and SIMPLE_ADDRESS.fullmatch(value):
        return value  # what parsing and formatting a bare dot-atom address gives back
    return _parsed_address(value, name)


# Senders repeat on every message of a sequence: their headers are worked out once.
@lru_cache(maxsize=1024)
def _parsed_address(value: str, name: str | None) -> str:
    found = getaddresses([value])
    display, addr = found[0] if len(found) == 1 else ("", "")
    if not _ADDR_SPEC.fullmatch(addr) or not addr.isascii():
        raise InvalidMessage(f"not an email address: {value!r}")
    return formataddr((name or display, addr), charset="utf-8")


@lru_cache(maxsize=1024)
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
