"""Small pure rules shared by the engine and the channels: opt-out wording, message ids."""

from __future__ import annotations

import hashlib
import re

_OPT_OUT_WORDING = re.compile(r"\b(stop|opt[\s-]?out|unsubscribe)\b", re.IGNORECASE)


def append_opt_out(body: str, phrase: str) -> str:
    """The SMS body with the opt-out phrase appended, unless it already tells how to opt out."""
    if not phrase or _OPT_OUT_WORDING.search(body):
        return body
    return f"{body.rstrip()}\n{phrase}" if body.strip() else phrase


def message_id_for(key: str, sender: str) -> str:
    """A deterministic RFC 5322 Message-ID for an outbox key: a resend reuses it."""
    domain = sender.rpartition("@")[2] or "cadenza.invalid"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def reply_subject(subject: str) -> str:
    """`Re: subject`, without doubling the prefix."""
    return subject if re.match(r"^\s*re\s*:", subject, re.IGNORECASE) else f"Re: {subject}"
