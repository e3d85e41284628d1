"""Recognise a forwarded email and read the original it carries (its From, To, Message-ID).

A forward starts a thread of its own: no In-Reply-To names what we sent. What it quotes
does: mail programs write a block ("---------- Forwarded message ---------", "Begin
forwarded message:", "-----Original Message-----", and their translations) followed by the
original's headers, in the reader's language. Pure: the caller matches what is found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Fwd:, FW:, and their translations (WG: German, TR: French, RV: Spanish, ENC: Portuguese,
# I: Italian, VS: Finnish, VB: Swedish, Doorst: Dutch, PD: Polish), after any Re:.
_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|r)\s*:\s*)*(?:fwd?|fw|wg|tr|rv|enc|i|vs|vb|doorst|pd|fs)\s*:",
    re.IGNORECASE,
)
_BLOCK = re.compile(
    r"^[ \t>*]*(?:-{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht|"
    r"urspr[üu]ngliche nachricht|message transf[ée]r[ée]|message d'origine|mensaje reenviado|"
    r"mensaje original|messaggio inoltrato|messaggio originale|mensagem encaminhada|"
    r"doorgestuurd bericht|oorspronkelijk bericht|vidarebefordrat meddelande)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:|"
    r"d[ée]but du message r[ée]exp[ée]di[ée]\s*:)",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER = re.compile(r"^[ \t>*]*([A-Za-zÀ-ÿ-]{1,20})\s*:\*?\s*(.*)$")
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MSG_ID = re.compile(r"<[^<>\s]+>")
FROM = {"from", "von", "de", "da", "van", "från", "lähettäjä", "od"}
TO = {"to", "an", "à", "a", "para", "aan", "till", "vastaanottaja", "do"}
HEADER_LINES = 15  # the original's headers follow the block's first line closely


@dataclass(frozen=True)
class Forwarded:
    """What a forward says of the original it carries."""

    from_address: str | None = None
    to_addresses: list[str] = field(default_factory=list)
    message_id: str | None = None


def is_forward_subject(subject: str) -> bool:
    """Whether the subject says the email is a forward (Fwd:, FW:, WG:, TR:...)."""
    return bool(_SUBJECT.match(subject))


def find_forwarded(subject: str, text: str) -> Forwarded | None:
    """The original a forward carries, when the email is a forward that shows one."""
    block = _BLOCK.search(text)
    if block is None:
        return None if not is_forward_subject(subject) else _headers_anywhere(text)
    lines = text[block.end() :].splitlines()[: HEADER_LINES + 1]
    return _read(lines)


def _headers_anywhere(text: str) -> Forwarded | None:
    """A forward whose block has no marker line: its first header lines that name a sender."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = _HEADER.match(line)
        if found and found[1].lower() in FROM and _ADDRESS.search(found[2]):
            return _read(lines[index : index + HEADER_LINES])
    return None


def _read(lines: list[str]) -> Forwarded | None:
    sender, message_id = None, None
    to: list[str] = []
    for line in lines:
        found = _HEADER.match(line)
        if not found:
            continue
        name, value = found[1].lower(), found[2]
        if name in FROM and sender is None:
            addresses = _ADDRESS.findall(value)
            sender = addresses[0].lower() if addresses else None
        elif name in TO and not to:
            to = [a.lower() for a in _ADDRESS.findall(value)]
        elif name in ("message-id", "message-id:") and message_id is None:
            ids = _MSG_ID.findall(value)
            message_id = ids[0] if ids else None
    if sender is None and message_id is None and not to:
        return None
    return Forwarded(sender, to, message_id)
