"""Small pure rules shared by the engine and the channels: opt-out wording, message ids."""

from __future__ import annotations

import hashlib
import re
from email.utils import parseaddr
from functools import lru_cache

# Only real instructions count as opt-out wording: "stop by our booth" is not one.
_OPT_OUT_WORDING = re.compile(
    r"\bopt[\s-]?out\b|\bunsubscribe\b"
    r"|\b(?:reply|text|txt|send|respond)(?:\s+with)?\s+[\"'“]?stop\b"
    r"|\bstop[\"'”]?\s+to\s+(?:opt|end|stop|cancel|quit|unsubscribe)",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def append_opt_out(body: str, phrase: str) -> str:
    """`body` with the opt-out `phrase` on a line of its own, unless it already says how."""
    if not phrase or _OPT_OUT_WORDING.search(body) or phrase.lower() in body.lower():
        return body
    return f"{body.rstrip()}\n{phrase}" if body.strip() else phrase


@lru_cache(maxsize=1024)  # a handful of senders, asked for on every message
def sender_domain(sender: str) -> str | None:
    """The domain of a sender address as written (`Ana <ana@x.example>` gives x.example)."""
    local, at, domain = parseaddr(sender)[1].rpartition("@")
    return domain if local and at and domain else None


def message_id_for(key: str, sender: str) -> str:
    """The Message-ID of the email with idempotency key `key`: the same on every resend."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{sender_domain(sender) or 'cadenza.invalid'}>"


def reply_subject(subject: str) -> str:
    """`subject` as a reply: prefixed with `Re: ` unless it already is."""
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"
