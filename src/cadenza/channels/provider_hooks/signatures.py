"""Checking that a provider's webhook call is the provider's: Mailgun, SendGrid, Amazon SNS.

- Mailgun: HMAC-SHA256 of `timestamp + token` with the webhook signing key, hex; the
  timestamp must be recent (a replayed call is refused).
- SendGrid (Signed Event Webhook): ECDSA P-256 / SHA-256 over `timestamp + raw body`, the
  signature base64 DER in `X-Twilio-Email-Event-Webhook-Signature`, the public key base64
  DER as SendGrid shows it.
- Amazon SNS: RSA over the documented string of the message's fields (SHA1 for
  SignatureVersion 1, SHA256 for 2), with the certificate at `SigningCertURL`, which must be
  https://sns.<region>.amazonaws.com/….pem: no other host is ever fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

SNS_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?")
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = (
    "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
)  # fmt: skip


def mailgun_valid(
    keys: Iterable[str], timestamp: str, token: str, signature: str, now: datetime, max_age: int
) -> bool:
    """Whether Mailgun signed this timestamp and token with one of `keys`, recently."""
    try:
        age = abs(now.timestamp() - float(timestamp))
    except ValueError:
        return False
    if not age <= max_age or not token or not signature:  # "not <=": NaN is refused too
        return False
    text = f"{timestamp}{token}".encode()
    return any(
        hmac.compare_digest(hmac.new(key.encode(), text, hashlib.sha256).hexdigest(), signature)
        for key in keys
        if key
    )


def sendgrid_valid(
    public_keys: Iterable[str],
    signature: str,
    timestamp: str,
    body: bytes,
    now: datetime,
    max_age: int,
) -> bool:
    """Whether SendGrid signed `timestamp + body` with the key of one of `public_keys`."""
    try:
        if not abs(now.timestamp() - float(timestamp)) <= max_age:
            return False
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    for text in public_keys:
        try:
            key = serialization.load_der_public_key(base64.b64decode(text))
        except (ValueError, binascii.Error):
            continue
        if not isinstance(key, ec.EllipticCurvePublicKey):
            continue
        try:
            key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            continue
    return False


def sns_cert_url_allowed(url: str) -> bool:
    """Only https://sns.<region>.amazonaws.com/….pem holds an SNS signing certificate."""
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.port in (None, 443)
        and bool(parts.hostname and SNS_HOST.fullmatch(parts.hostname))
        and parts.path.endswith(".pem")
        and not parts.username
    )


def sns_string_to_sign(message: dict[str, Any]) -> str:
    """The documented string an SNS message's signature is over."""
    kind = message.get("Type")
    fields = NOTIFICATION_FIELDS if kind == "Notification" else SUBSCRIPTION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None)


class SnsCertificates:
    """Signing certificates fetched from SNS (cached), through an injectable transport."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(transport=transport, timeout=10.0, follow_redirects=False)
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def verify(self, message: dict[str, Any], now: datetime) -> str | None:
        """None when SNS signed the message; else why it is refused."""
        url = str(message.get("SigningCertURL") or message.get("SigningCertUrl") or "")
        if not sns_cert_url_allowed(url):
            return f"the signing certificate URL {url[:200]!r} is not Amazon SNS's"
        version = str(message.get("SignatureVersion", ""))
        if version not in ("1", "2"):
            return f"unknown SNS SignatureVersion {version!r}"
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
            key = self._key(url, now)
        except (ValueError, binascii.Error, httpx.HTTPError) as exc:
            return f"cannot check the SNS signature: {exc}"
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # v1 is SHA1, as SNS signs
        text = sns_string_to_sign(message).encode()
        try:
            key.verify(signature, text, padding.PKCS1v15(), digest)
        except InvalidSignature:
            return "the SNS signature does not match the message"
        return None

    def get(self, url: str) -> httpx.Response:
        """GET an SNS URL (subscription confirmation) through the same transport."""
        return self._client.get(url)

    def _key(self, url: str, now: datetime) -> rsa.RSAPublicKey:
        with self._lock:
            key = self._keys.get(url)
        if key is not None:
            return key
        response = self._client.get(url)
        response.raise_for_status()
        cert = x509.load_pem_x509_certificate(response.content)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ValueError("the SNS signing certificate is not valid now")
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("the SNS signing certificate has no RSA key")
        with self._lock:
            self._keys[url] = public
        return public

    def close(self) -> None:
        self._client.close()
