"""DKIM for mail Cadenza hands to an SMTP relay itself: keys, their DNS record, signatures.

Keys are RSA 2048 (`cryptography`); signing is dkimpy's (relaxed/relaxed, rsa-sha256), over
the headers receivers check and our threading and List-Unsubscribe headers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import dkim  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cadenza.channels.email import MimeEmail
from cadenza.channels.errors import AccountError

SIGNED = (
    b"from", b"to", b"cc", b"reply-to", b"subject", b"date", b"message-id", b"in-reply-to",
    b"references", b"mime-version", b"content-type", b"list-unsubscribe",
    b"list-unsubscribe-post",
)  # fmt: skip


@dataclass(frozen=True)
class DkimKey:
    """A private key (PEM) and the public half as DNS publishes it (base64 DER)."""

    private_pem: str
    public_b64: str


def generate_key() -> DkimKey:
    """A new RSA 2048 key pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return DkimKey(pem, public_of(pem))


def public_of(private_pem: str) -> str:
    """The public key of a PEM private key, base64 DER (SubjectPublicKeyInfo), as DNS has it."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def dns_record(selector: str, domain: str, public_b64: str) -> tuple[str, str]:
    """The TXT record to publish: (its name, its value)."""
    return f"{selector}._domainkey.{domain}", f"v=DKIM1; k=rsa; p={public_b64}"


def sign(mime: MimeEmail, selector: str, domain: str, private_pem: str) -> MimeEmail:
    """The message with a DKIM-Signature header first."""
    try:
        header: bytes = dkim.sign(
            mime.data,
            selector.encode("ascii"),
            domain.encode("ascii"),
            private_pem.encode("ascii"),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h for h in SIGNED if _has(mime.data, h)],
        )
    except (dkim.DKIMException, ValueError) as exc:
        raise AccountError(f"cannot DKIM-sign for {domain}: {exc}") from None
    return MimeEmail(mime.message_id, header + mime.data)


def _has(data: bytes, name: bytes) -> bool:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or b"\r\n" + name + b":" in head
