"""Reading a bounce from its words: the status, the failed address and the returned original.

Used when a bounce has no readable delivery report (plain-text bounces of qmail, Yahoo or
older Exchange, or a report whose MIME parts cannot be found). The failed address is taken
from where each mail system writes it; only then from the text at large, leaving out
Message-IDs, the mail system's own mailboxes and authentication results.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from cadenza.channels.email import html_to_text

ADDRESS = r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,63}"
_ADDRESS = re.compile(ADDRESS, re.IGNORECASE)
# Failures only (4.x.x, 5.x.x): a transcript's "250 2.1.0 Ok" says nothing about the failure.
STATUS = re.compile(r"(?<![\w.])([45])\.(\d{1,3})\.(\d{1,3})(?![\w.]*\d)")
# A three-digit SMTP reply at a boundary: "550 ", "550-", "421," — not a part of an IP or date.
SMTP_CODE = re.compile(r"(?<![\w.#:/+-])([45][0-5]\d)(?=[ ,;:-]|$)", re.MULTILINE)
# Words a failure report uses; a mail system's message without them reports no failure.
FAILURE_WORDS = re.compile(
    r"undeliver|not (?:be )?delivered|could not|couldn't|unable|fail|permanent|error|reject"
    r"|returned|unknown|does not exist|not found|refused|denied|quota|full|delay|invalid"
    r"|nicht zugestellt|unzustellbar|non remis|n'a pas pu|no se pudo|impossibile|niet bezorgd"
    r"|n[aã]o (?:foi|p[oô]de)|nie mo[zż]na|不能|失败|退信|配信",
    re.IGNORECASE,
)
# Where the returned original starts: what follows is our own message, not the report.
_ORIGINAL = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*)?(?:"
    r"This is a copy of the message|Below this line is a copy of the message"
    r"|Original message(?: headers)? follows|The original message (?:was|headers)"
    r"|Original message headers|Original Message Headers|Unsent Message below"
    r"|Undelivered message (?:headers )?follows|Returned message|Message d'origine"
    r"|Ursprüngliche Nachricht|Mensaje original|Messaggio originale"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
# Where mail systems write the address they could not deliver to, most reliable first.
_RECIPIENT_SPOTS = [
    re.compile(rf"^\s*(?:Original|Final)-Recipient:\s*(?:rfc822;)?\s*<?({ADDRESS})", re.I | re.M),
    re.compile(rf"RCPT TO:\s*<?({ADDRESS})>?", re.IGNORECASE),
    re.compile(rf"^<({ADDRESS})>:?\s*$", re.IGNORECASE | re.MULTILINE),  # qmail, Yahoo
    re.compile(rf"^<({ADDRESS})>(?: \(expanded from <[^>]*>\))?:", re.I | re.M),  # Postfix
    re.compile(rf"^<?({ADDRESS})>?:?\s+[45]\d\d\b", re.IGNORECASE | re.MULTILINE),  # OpenSMTPD
    re.compile(
        rf"(?:delivered to|delivery to|deliver(?:ed)? (?:your message )?to|message to|"
        rf"recipients? (?:address)?:?|destinataire|Empfänger|destinatario|to the following"
        rf" (?:address|recipient)e?s?:?|cannot be reached:|failed for the following"
        rf" recipients?:|recipient\(s\):)\s*\W{{0,3}}\s*<?({ADDRESS})",
        re.IGNORECASE,
    ),
    re.compile(rf"^[ \t]+<?({ADDRESS})>?[ \t]*(?:\(|$)", re.IGNORECASE | re.MULTILINE),  # Exim
    re.compile(rf"^<?({ADDRESS})>?[ \t]*(?:<mailto:|\(|$)", re.IGNORECASE | re.MULTILINE),
]
_NOT_RECIPIENT = re.compile(
    r"^(?:mailer[-_]?daemon|mail[-_]?daemon|post[-_]?master|mdaemon|abuse|support|help"
    r"|helpdesk|hostmaster|webmaster|no[-_]?reply|do[-_]?not[-_]?reply|bounces?"
    r"|feedback|fbl|root|security)[+@]",
    re.IGNORECASE,
)
_NOT_AN_ADDRESS_AFTER = re.compile(
    r"(?:message-id|in-reply-to|references|smtp\.mailfrom|smtp\.helo|header\.from|header\.i"
    r"|envelope-from|mailfrom|helo|id|return-path|sender|from)\s*[:=]\s*<?\s*$",
    re.IGNORECASE,
)


def header_text(message: Message, name: str) -> str:
    """A header on one line; raw 8-bit bytes (no RFC 2047) read as UTF-8, else Latin-1."""
    text = " ".join(str(message.get(name, "")).split())
    if "\ufffd" not in text:
        return text
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
    data = str(raw).encode("utf-8", "surrogateescape")
    try:
        return " ".join(data.decode("utf-8").split())
    except UnicodeDecodeError:
        return " ".join(data.decode("latin-1").split())


def plain_text(message: Message) -> str:
    """All text/plain parts that are not the returned original, joined."""
    chunks: list[str] = []
    markup: list[str] = []
    returned = _returned_parts(message)
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html") and id(part) not in returned:
            (chunks if kind == "text/plain" else markup).append(decoded(part))
    if not chunks and markup:  # an HTML-only report (some Exchange and webmail bounces)
        return "\n".join(html_to_text(m) for m in markup)
    return "\n".join(chunks)


def decoded(part: Message) -> str:
    """A leaf part's text, decoded from its transfer encoding and charset."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    try:
        return raw.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def report_text(text: str) -> str:
    """The bounce's own words: `text` up to where the returned original begins."""
    found = _ORIGINAL.search(text)
    return text[: found.start()] if found else text


def find_status(text: str) -> str | None:
    """The first enhanced status code (5.1.1) in `text`, else one made of an SMTP reply code."""
    found = STATUS.search(text)
    if found:
        return ".".join(found.groups())
    code = SMTP_CODE.search(text)
    return f"{code.group(1)[0]}.0.0" if code else None


def line_around(text: str, needle: str | None) -> str | None:
    """The line of `text` holding `needle` and the indented ones continuing it, on one line."""
    if not needle:
        return None
    at = text.find(needle)
    if at == -1:
        return None
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    while end != -1 and text[end + 1 : end + 2] in (" ", "\t"):
        end = text.find("\n", end + 1)
    return " ".join(text[start : end if end != -1 else None].split()) or None


def failed_recipient(text: str, ours: set[str]) -> str | None:
    """The address the report says failed; `ours`: the bounce's own parties, never it."""
    for spot in _RECIPIENT_SPOTS:
        for match in spot.finditer(text):
            address = match.group(1).lower()
            if _acceptable(address, ours, text, match.start(1)):
                return address
    return None


def any_recipient(text: str, ours: set[str]) -> str | None:
    """The first address in `text` that can be a recipient at all."""
    for match in _ADDRESS.finditer(text):
        address = match.group(0).lower()
        if _acceptable(address, ours, text, match.start()):
            return address
    return None


def _acceptable(address: str, ours: set[str], text: str, start: int) -> bool:
    if address in ours or _NOT_RECIPIENT.match(address):
        return False
    before = text[max(0, start - 40) : start]
    if _NOT_AN_ADDRESS_AFTER.search(before):
        return False
    # A Message-ID is an address-shaped token in angle brackets with a long unique local part.
    local = address.split("@")[0]
    return not (len(local) > 24 and re.search(r"\d", local) and re.search(r"[.$=_-]", local))


def original_headers(message: Message) -> Message | None:
    """The headers of the returned original message, when the bounce carries them."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(first, Message):
                return first
        elif kind == "text/rfc822-headers":
            return HeaderParser().parsestr(decoded(part))
    return None


def addresses_in(headers: Message | None, *names: str) -> list[str]:
    """The addresses in the named headers, lowercased."""
    if headers is None:
        return []
    values = [str(v) for name in names for v in headers.get_all(name, [])]
    try:
        pairs = getaddresses(values)
    except (TypeError, ValueError, IndexError):
        return []
    return [address.lower() for _, address in pairs if "@" in address]


def inside_original(message: Message, part: Message) -> bool:
    """True when `part` belongs to a returned message/rfc822 inside `message`."""
    return id(part) in _returned_parts(message)


def _returned_parts(message: Message) -> set[int]:
    # Text parts of a returned message/rfc822 are our own email, not the report.
    inside: set[int] = set()
    for container in message.walk():
        if container.get_content_type() == "message/rfc822":
            inner = container.get_payload()
            for m in inner if isinstance(inner, list) else []:
                if isinstance(m, Message):
                    inside.update(id(p) for p in m.walk())
    return inside
