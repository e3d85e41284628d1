"""Signed, URL-safe tokens: data a link carries that only Cadenza could have written.

A token is `base64url(json).base64url(hmac_sha256(key, json_part)[:16])`, the key being derived
from the secret for this one use so that other keys derived from the same secret (webhook
signing) never sign a token. Tokens do not expire: an unsubscribe link must keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cadenza.channels.errors import InvalidToken


@lru_cache(maxsize=64)  # a handful of (secret, purpose) pairs, asked for on every link
def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the process secret (HMAC-SHA256)."""
    return hmac.new(secret.encode(), f"cadenza:{purpose}".encode(), hashlib.sha256).digest()


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on anything that is not base64url."""
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _mac(body: str, secret: str) -> bytes:
    # hmac.digest is the one-shot C path: the same bytes as hmac.new(...).digest().
    return hmac.digest(derive_key(secret, "tokens"), body.encode("ascii"), "sha256")[:16]


# What json.dumps(separators=(",", ":"), sort_keys=True, ensure_ascii=False) writes, with the
# encoder built once: every tracked link and footer signs a token.
_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode


def sign_token(data: Mapping[str, Any], secret: str) -> str:
    """A token carrying `data` (JSON-serialisable), signed with a key derived from `secret`."""
    body = b64url(_encode(dict(data)).encode())
    return f"{body}.{b64url(_mac(body, secret))}"


def verify_token(token: str, secret: str) -> dict[str, Any]:
    """The data inside a token this secret signed; raises InvalidToken otherwise."""
    body, _, signature = token.partition(".")
    try:
        given = unb64url(signature)
        expected = _mac(body, secret)
        if not hmac.compare_digest(given, expected):
            raise InvalidToken("this link was not issued by Cadenza or was altered")
        data = json.loads(unb64url(body))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidToken("this link is malformed") from exc
    if not isinstance(data, dict):
        raise InvalidToken("this link is malformed")
    return data
