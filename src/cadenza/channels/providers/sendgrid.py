"""SendGrid: v3 Mail Send (`POST /v3/mail/send`, `Authorization: Bearer KEY`), JSON.

The API takes fields, not MIME: the message built for SMTP is taken apart so the bodies
(with our tracked links, pixel and footer) and our Message-ID, threading and
List-Unsubscribe headers go as built. SendGrid's own tracking is off; our key rides in
`custom_args`, which every event carries back.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

import httpx

from cadenza.channels.email import MimeEmail
from cadenza.channels.outgoing import OutgoingEmail, SendResult, bare_address
from cadenza.channels.providers.base import KEY_FIELD, parts_of, post, raise_for, secret

NAME = "SendGrid"
URL = "https://api.sendgrid.com/v3/mail/send"


class SendGridProvider:
    """One SendGrid API key."""

    def __init__(
        self,
        config: Mapping[str, Any],
        env: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        key = secret(config, env, "api_key_env", NAME)
        self._client = httpx.Client(
            transport=transport, timeout=timeout, headers={"Authorization": f"Bearer {key}"}
        )

    def send(self, email: OutgoingEmail, mime: MimeEmail) -> SendResult:
        """POST the message as SendGrid's JSON; its id is the X-Message-Id answer header."""
        response = post(NAME, self._client, URL, json=payload(email, mime))
        raise_for(NAME, response)
        return SendResult(
            provider_id=response.headers.get("X-Message-Id", mime.message_id.strip("<>")),
            detail="accepted by SendGrid",
        )

    def close(self) -> None:
        self._client.close()


def payload(email: OutgoingEmail, mime: MimeEmail) -> dict[str, Any]:
    """The Mail Send body for a built email."""
    parts = parts_of(mime)
    personalization: dict[str, Any] = {"to": [_person(a) for a in parts.to]}
    if parts.cc:
        personalization["cc"] = [_person(a) for a in parts.cc]
    if email.bcc:
        personalization["bcc"] = [{"email": bare_address(a)} for a in email.bcc]
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": _person(parts.sender),
        "subject": parts.subject,
        "content": [
            {"type": "text/plain", "value": parts.text},
            {"type": "text/html", "value": parts.html},
        ],
        "headers": parts.headers,
        "custom_args": {KEY_FIELD: email.key},
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
            "subscription_tracking": {"enable": False},
        },
    }
    if parts.reply_to:
        body["reply_to"] = _person(parts.reply_to)
    return body


def _person(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"email": address, "name": name} if name else {"email": address}
