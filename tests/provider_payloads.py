"""Provider webhook bodies shaped as each provider's documentation shows, signed as they sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from cadenza.channels.provider_hooks.signatures import sns_string_to_sign

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:cadenza-ses"


def mailgun_event(
    key: str, event: str, when: datetime, provider_id: str, **extra: Any
) -> dict[str, Any]:
    """A Mailgun webhook body; sign it with `mailgun_sign`."""
    data: dict[str, Any] = {
        "event": event,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": when.timestamp(),
        "recipient": "jane@example.com",
        "message": {"headers": {"message-id": provider_id}},
        "user-variables": {"cadenza_key": key},
        **extra,
    }
    return {"signature": {}, "event-data": data}


def mailgun_sign(body: dict[str, Any], key: str, when: datetime, token: str = "a" * 50) -> None:
    timestamp = str(int(when.timestamp()))
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    body["signature"] = {"timestamp": timestamp, "token": token, "signature": digest}


def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key and its public half as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_events(key: str, provider_id: str, *events: dict[str, Any]) -> bytes:
    when = 1764604800
    items = [
        {
            "email": "jane@example.com",
            "timestamp": when,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "sg_event_id": f"sg_event_id_{n}",
            "sg_message_id": f"{provider_id}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
            "cadenza_key": key,
            **event,
        }
        for n, event in enumerate(events)
    ]
    return json.dumps(items).encode()


def sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, when: datetime
) -> dict[str, str]:
    timestamp = str(int(when.timestamp()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


class SnsSigner:
    """Our own certificate and key standing in for Amazon SNS's (served at CERT_URL)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=3650))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self.key, hashes.SHA256())
        )
        self.fetched: list[str] = []

    def transport(self) -> httpx.MockTransport:
        pem = self.cert.public_bytes(serialization.Encoding.PEM)

        def handler(request: httpx.Request) -> httpx.Response:
            self.fetched.append(str(request.url))
            if str(request.url) == CERT_URL:
                return httpx.Response(200, content=pem)
            if "Action=ConfirmSubscription" in str(request.url):
                return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")
            return httpx.Response(404)

        return httpx.MockTransport(handler)

    def notification(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        body = {
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Message": json.dumps(message),
            "Timestamp": "2026-12-01T16:05:00.000Z",
            "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
        self.sign(body)
        return body

    def sign(self, body: dict[str, Any]) -> None:
        digest = hashes.SHA1() if body["SignatureVersion"] == "1" else hashes.SHA256()
        text = sns_string_to_sign(body).encode()
        body["Signature"] = base64.b64encode(
            self.key.sign(text, padding.PKCS1v15(), digest)
        ).decode()


def ses_event(kind: str, provider_id: str, **extra: Any) -> dict[str, Any]:
    """An SES event (configuration set event publishing to SNS)."""
    return {
        "eventType": kind,
        "mail": {
            "timestamp": "2026-12-01T16:00:00.000Z",
            "source": "sales@acme.example",
            "messageId": provider_id,
            "destination": ["jane@example.com"],
            "tags": {"ses:configuration-set": ["cadenza-events"]},
        },
        **extra,
    }


def postmark_event(record: str, provider_id: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "RecordType": record,
        "MessageStream": "outbound",
        "MessageID": provider_id,
        "Recipient": "jane@example.com",
        "Metadata": {"cadenza_key": key},
        **extra,
    }
