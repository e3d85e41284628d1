"""Webhooks: POST a JSON payload signed per the Standard Webhooks spec, safely.

Signature: `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
with `webhook-id` the message's idempotency key (receivers deduplicate on it) and
`webhook-timestamp` unix seconds. The key is `derive_key(CADENZA_SECRET_KEY, "webhooks")`;
receivers are given it as the spec's `whsec_<base64 key>` (see `webhook_secret`).
Redirects are never followed and every URL passes the SSRF guard (`ssrf.py`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from cadenza.channels.errors import PermanentError, SendError, TransientError
from cadenza.channels.outgoing import OutgoingWebhook, SendResult
from cadenza.channels.ssrf import AllowList, Resolver, check_destination, system_resolver
from cadenza.channels.tokens import derive_key
from cadenza.settings import Settings

SECRET_PREFIX = "whsec_"
USER_AGENT = "Cadenza-Webhooks/1"
# Headers a step may not set: they are ours (signature, framing) or the guard's (Host).
_RESERVED = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent",
     "webhook-id", "webhook-timestamp", "webhook-signature"}
)  # fmt: skip
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DETAIL_LIMIT = 300
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def webhook_secret(secret_key: str) -> str:
    """The `whsec_…` secret receivers verify with, derived from CADENZA_SECRET_KEY."""
    return SECRET_PREFIX + base64.b64encode(derive_key(secret_key, "webhooks")).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The `webhook-signature` value (`v1,<base64>`) for this id, timestamp and body."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = 300,
    clock: Callable[[], float] = time.time,
) -> bool:
    """True when the webhook-* headers sign `body` and the timestamp is within `tolerance` s."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        expected = sign(msg_id, timestamp, body, secret)
    except (KeyError, ValueError, binascii.Error):
        return False
    if abs(clock() - timestamp) > tolerance:
        return False
    # Several space-separated signatures appear while a key is being rotated.
    given = lower.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in given)


class WebhookSender:
    """Sends webhooks; `transport` and `resolver` replace the network and DNS in tests."""

    def __init__(
        self,
        secret: str,
        allow: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        *,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _key(secret):  # fail now, not on the first send (binascii.Error if malformed)
            raise ValueError("the webhook secret is empty")
        self._secret = secret
        self._allow = AllowList(allow)
        self._transport = transport
        self._timeout = timeout
        self._resolver = resolver
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        *,
        resolver: Resolver = system_resolver,
    ) -> WebhookSender:
        """A sender signing with the key derived from the settings, honouring WEBHOOK_ALLOW."""
        secret = webhook_secret(settings.secret_key)
        return cls(secret, settings.webhook_allow, transport, resolver=resolver)

    def send(self, hook: OutgoingWebhook) -> SendResult:
        """Deliver `hook` once; raise TransientError (retry) or PermanentError (give up)."""
        method = hook.method.upper()
        if method not in _METHODS:
            raise PermanentError(f"webhooks are sent with POST, PUT or PATCH, not {method}")
        _check_headers(hook.headers)
        target = check_destination(hook.url, self._allow, self._resolver)
        body = json.dumps(hook.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(self._clock())
        headers = {k: v for k, v in hook.headers.items() if k.lower() not in _RESERVED}
        headers |= {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": hook.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(hook.key, timestamp, body, self._secret),
        }
        # The request goes to the checked address; Host and SNI keep the name for the server.
        extensions = {"sni_hostname": target.host} if target.tls else {}
        request = httpx.Request(
            method, target.connect_url, headers=headers, content=body, extensions=extensions
        )
        return self._deliver(request, hook)

    def _deliver(self, request: httpx.Request, hook: OutgoingWebhook) -> SendResult:
        # A client per request: connections are pooled by address, and two hostnames on one
        # address must never share a TLS connection made for the other's name.
        transport = self._transport or httpx.HTTPTransport(retries=0, verify=tls_context())
        client = httpx.Client(
            transport=transport, timeout=self._timeout, follow_redirects=False, trust_env=False
        )
        try:
            response = client.send(request, stream=True)
            try:
                detail = _read_some(response)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise TransientError(f"{hook.url} did not answer within {self._timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach {hook.url}: {exc}") from exc
        finally:
            if self._transport is None:
                client.close()
        if response.is_success:
            return SendResult(provider_id=hook.key, detail=f"HTTP {response.status_code}")
        raise _failure(response, detail)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once per process and shared by every sender
    (a step's webhooks and the subscriptions' deliveries, which make a sender per attempt):
    loading the CA bundle for every request took 20 to 50 ms, which held deliveries under 20 a
    second. Each connection still checks the certificate against the name it connects for
    (its SNI)."""
    return httpx.create_ssl_context()


def _failure(response: httpx.Response, detail: str) -> SendError:
    status = response.status_code
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    if 300 <= status < 400:
        where = response.headers.get("location", "elsewhere")
        return PermanentError(f"redirects are not followed (HTTP {status} to {where})")
    if status in (408, 429) or status >= 500:
        return TransientError(text, code=str(status), retry_after=_retry_after(response))
    return PermanentError(text, code=str(status))


def _read_some(response: httpx.Response) -> str:
    # Only the start of the answer is kept for the message's error: never a large body.
    chunk = b""
    for part in response.iter_bytes():
        chunk += part
        if len(chunk) >= _DETAIL_LIMIT:
            break
    return " ".join(chunk[:_DETAIL_LIMIT].decode(errors="replace").split())


def _check_headers(headers: Mapping[str, str]) -> None:
    # Refused here, a bad header is a permanent error; at the socket it would look transient.
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
            raise PermanentError(f"invalid webhook header {name!r}")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
