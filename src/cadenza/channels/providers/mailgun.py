"""Mailgun: the built MIME through `POST /v3/{domain}/messages.mime` (HTTP Basic `api:KEY`).

Mailgun keeps the message as built (our Message-ID and headers); its own open and click
tracking is turned off because our links and pixel are tracked already. Our key goes in
`v:cadenza_key`, which Mailgun returns in each event's `user-variables`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from cadenza.channels.email import MimeEmail
from cadenza.channels.outgoing import OutgoingEmail, SendResult
from cadenza.channels.providers.base import KEY_FIELD, body_of, post, raise_for, secret

NAME = "Mailgun"
BASES = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class MailgunProvider:
    """One Mailgun sending domain."""

    def __init__(
        self,
        config: Mapping[str, Any],
        env: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.domain = str(config["domain"])
        self.base = BASES[str(config.get("region", "us"))]
        self._key = secret(config, env, "api_key_env", NAME)
        self._client = httpx.Client(
            transport=transport, timeout=timeout, auth=httpx.BasicAuth("api", self._key)
        )

    def send(self, email: OutgoingEmail, mime: MimeEmail) -> SendResult:
        """POST the MIME message with every envelope recipient."""
        data = {
            "to": ",".join(email.recipients),
            f"v:{KEY_FIELD}": email.key,
            "o:tracking": "no",
            "o:tracking-clicks": "no",
            "o:tracking-opens": "no",
        }
        files = {"message": ("message.mime", mime.data, "message/rfc822")}
        url = f"{self.base}/v3/{self.domain}/messages.mime"
        response = post(NAME, self._client, url, data=data, files=files)
        raise_for(NAME, response)
        found = str(body_of(response).get("id") or mime.message_id)
        return SendResult(provider_id=found.strip("<>"), detail="queued by Mailgun")

    def close(self) -> None:
        self._client.close()
