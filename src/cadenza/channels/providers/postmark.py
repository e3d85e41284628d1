"""Postmark: `POST https://api.postmarkapp.com/email` with `X-Postmark-Server-Token`, JSON.

Like SendGrid it takes fields: the built message is taken apart, our headers go in
`Headers`, our key in `Metadata`, and Postmark's tracking stays off (ours is in the body).
A 422 answer carries Postmark's `ErrorCode`: 10 (bad token) and 412/413 (account) are our
account's trouble, to be retried once fixed; the others refuse the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from cadenza.channels.email import MimeEmail
from cadenza.channels.errors import AccountError, PermanentError
from cadenza.channels.outgoing import OutgoingEmail, SendResult, bare_address
from cadenza.channels.providers.base import KEY_FIELD, body_of, parts_of, post, raise_for, secret

NAME = "Postmark"
URL = "https://api.postmarkapp.com/email"
ACCOUNT_CODES = {10, 405, 412, 413}


class PostmarkProvider:
    """One Postmark server (its server token) and message stream."""

    def __init__(
        self,
        config: Mapping[str, Any],
        env: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        token = secret(config, env, "server_token_env", NAME)
        self.stream = str(config.get("message_stream", "outbound"))
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "X-Postmark-Server-Token": token},
        )

    def send(self, email: OutgoingEmail, mime: MimeEmail) -> SendResult:
        """POST the message; Postmark's MessageID is its id."""
        response = post(NAME, self._client, URL, json=payload(email, mime, self.stream))
        data = body_of(response)
        if response.status_code == 422:
            code = int(data.get("ErrorCode", 0) or 0)
            text = f"Postmark refused the message ({code}): {data.get('Message', '')}"
            if code in ACCOUNT_CODES:
                raise AccountError(text, code=str(code))
            raise PermanentError(text, code=str(code))
        raise_for(NAME, response)
        return SendResult(provider_id=str(data.get("MessageID", "")), detail="sent by Postmark")

    def close(self) -> None:
        self._client.close()


def payload(email: OutgoingEmail, mime: MimeEmail, stream: str) -> dict[str, Any]:
    """The /email body for a built email."""
    parts = parts_of(mime)
    body: dict[str, Any] = {
        "From": parts.sender,
        "To": ", ".join(parts.to),
        "Subject": parts.subject,
        "HtmlBody": parts.html,
        "TextBody": parts.text,
        "Headers": [{"Name": name, "Value": value} for name, value in parts.headers.items()],
        "TrackOpens": False,
        "TrackLinks": "None",
        "Metadata": {KEY_FIELD: email.key},
        "MessageStream": stream,
    }
    if parts.cc:
        body["Cc"] = ", ".join(parts.cc)
    if email.bcc:
        body["Bcc"] = ", ".join(bare_address(a) for a in email.bcc)
    if parts.reply_to:
        body["ReplyTo"] = parts.reply_to
    return body
