"""Amazon SES: API v2 SendEmail (`POST /v2/email/outbound-emails`), signed with SigV4.

The built message goes as `Content.Raw.Data` (base64), so our headers go as built; SES
answers its `MessageId`, which its event notifications name as `mail.messageId`. Errors
follow SES's documented exception types: throttling and SES's own trouble are retried,
a paused or suspended account is our account's trouble, the rest refuse the message.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from cadenza.channels.email import MimeEmail
from cadenza.channels.errors import AccountError, TransientError
from cadenza.channels.outgoing import OutgoingEmail, SendResult
from cadenza.channels.providers import sigv4
from cadenza.channels.providers.base import KEY_FIELD, body_of, post, raise_for, secret

NAME = "Amazon SES"
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
ACCOUNT_ERRORS = {"AccountSuspendedException", "SendingPausedException"}
RETRIED_ERRORS = {"TooManyRequestsException", "LimitExceededException"}
TAG_VALUE = re.compile(r"[A-Za-z0-9_.@-]{1,256}")


class SesProvider:
    """One AWS region and access key of SES."""

    def __init__(
        self,
        config: Mapping[str, Any],
        env: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.region = str(config.get("region", ""))
        if not REGION.fullmatch(self.region):
            raise AccountError(f"{NAME}: region {self.region!r} is not an AWS region")
        self._access = secret(config, env, "access_key_id_env", NAME)
        self._secret = secret(config, env, "secret_access_key_env", NAME)
        token_env = config.get("session_token_env")
        self._token = env.get(str(token_env)) if token_env else None
        self.configuration_set = config.get("configuration_set")
        self.url = f"https://email.{self.region}.amazonaws.com/v2/email/outbound-emails"
        self._now = now  # the signature's time; injectable so a test can check the signature
        self._client = httpx.Client(transport=transport, timeout=timeout)

    def send(self, email: OutgoingEmail, mime: MimeEmail) -> SendResult:
        """POST the raw message, signed; SES's MessageId is its id."""
        body = json.dumps(payload(email, mime, self.configuration_set)).encode()
        headers = sigv4.sign(
            method="POST",
            url=self.url,
            headers={"Content-Type": "application/json"},
            body=body,
            access_key=self._access,
            secret_key=self._secret,
            region=self.region,
            service="ses",
            now=self._now(),
            session_token=self._token,
        )
        response = post(NAME, self._client, self.url, content=body, headers=headers)
        data = body_of(response)
        kind = str(response.headers.get("x-amzn-ErrorType") or data.get("__type") or "")
        kind = kind.split(":")[0].split("#")[-1]
        said = str(data.get("message") or data.get("Message") or kind)
        if kind in ACCOUNT_ERRORS:
            raise AccountError(f"{NAME} refused our account: {kind}: {said}", code=kind)
        if kind in RETRIED_ERRORS:
            raise TransientError(f"{NAME}: {kind}: {said}", code=kind)
        raise_for(NAME, response, f"{kind}: {said}" if kind else None)
        return SendResult(provider_id=str(data.get("MessageId", "")), detail="sent by SES")

    def close(self) -> None:
        self._client.close()


def payload(
    email: OutgoingEmail, mime: MimeEmail, configuration_set: object = None
) -> dict[str, Any]:
    """The SendEmail body: the raw message and its envelope."""
    destination: dict[str, list[str]] = {"ToAddresses": [email.recipients[0]]}
    others = email.recipients[1:]
    cc, bcc = others[: len(email.cc)], others[len(email.cc) :]
    if cc:
        destination["CcAddresses"] = cc
    if bcc:
        destination["BccAddresses"] = bcc
    body: dict[str, Any] = {
        "FromEmailAddress": email.envelope_from,
        "Destination": destination,
        "Content": {"Raw": {"Data": base64.b64encode(mime.data).decode("ascii")}},
    }
    # A tag value allows few characters: our key goes only when it fits (events are
    # matched by SES's MessageId anyway).
    if TAG_VALUE.fullmatch(email.key):
        body["EmailTags"] = [{"Name": KEY_FIELD, "Value": email.key}]
    if configuration_set:
        body["ConfigurationSetName"] = str(configuration_set)
    return body
