"""Twilio: send SMS/MMS through its REST API, verify and read the callbacks it makes.

Twilio signs every callback: base64(HMAC-SHA1(auth token, URL + each POST parameter's name
and value, sorted by name)) in the `X-Twilio-Signature` header. The URL must be the one
Twilio called, as configured (`base_url` + path), not the one a proxy handed to the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from cadenza.channels.errors import (
    AccountError,
    PermanentError,
    SendError,
    TransientError,
    UnsupportedByProvider,
)
from cadenza.channels.inbound_sms import InboundSms, SmsStatus
from cadenza.channels.outgoing import OutgoingSms, OutgoingVoicemail, SendResult

API_BASE = "https://api.twilio.com/2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
Params = Mapping[str, str | Sequence[str]]


class TwilioProvider:
    """SMS and MMS through Twilio; `transport` replaces the network in tests."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        transport: httpx.BaseTransport | None = None,
        *,
        status_callback: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._sid = account_sid
        self._token = auth_token
        self._status_callback = status_callback
        self._client = httpx.Client(
            transport=transport, auth=(account_sid, auth_token), timeout=timeout
        )

    def send_sms(self, msg: OutgoingSms) -> SendResult:
        """Create the message at Twilio; the key makes a resend a no-op there."""
        form: dict[str, str | list[str]] = {"To": msg.to, "Body": msg.body}
        # A Messaging Service SID (MG…) picks the number itself; anything else is a number.
        form["MessagingServiceSid" if msg.sender.startswith("MG") else "From"] = msg.sender
        if msg.media:
            form["MediaUrl"] = list(msg.media)
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        data = self._post(f"{API_BASE}/Accounts/{self._sid}/Messages.json", form, msg.key)
        return SendResult(provider_id=str(data.get("sid", "")), detail=str(data.get("status", "")))

    def send_voicemail(self, msg: OutgoingVoicemail) -> SendResult:
        """Twilio has no ringless voicemail."""
        raise UnsupportedByProvider("ringless voicemail is not supported by this provider")

    def verify_callback(self, url: str, params: Params, signature: str) -> bool:
        """True when `signature` (X-Twilio-Signature) is Twilio's for this URL and form."""
        return any(
            hmac.compare_digest(twilio_signature(self._token, candidate, params), signature)
            for candidate in _url_variants(url)
        )

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()

    def _post(self, url: str, form: dict[str, str | list[str]], key: str) -> dict[str, object]:
        try:
            response = self._client.post(url, data=form, headers={IDEMPOTENCY_HEADER: key})
        except httpx.TimeoutException as exc:
            raise TransientError("Twilio did not answer in time") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Twilio: {exc}") from exc
        if response.is_success:
            return _json(response)
        raise _classify(response)


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """Twilio's request signature for a form POST (or GET with `params` empty) to `url`."""
    payload = url
    for name in sorted(params):
        values = params[name]
        # Repeated values are signed sorted and once each, as Twilio's own libraries do.
        for value in sorted({values} if isinstance(values, str) else set(values)):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_inbound_sms(params: Mapping[str, str]) -> InboundSms:
    """The text in Twilio's incoming-message webhook form."""
    count = int(params.get("NumMedia", "0") or 0)
    return InboundSms(
        provider_id=params.get("MessageSid", ""),
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        body=params.get("Body", ""),
        media=[params[f"MediaUrl{i}"] for i in range(count) if f"MediaUrl{i}" in params],
    )


def parse_status_callback(params: Mapping[str, str]) -> SmsStatus:
    """The delivery report in Twilio's status-callback form."""
    return SmsStatus(
        provider_id=params.get("MessageSid", ""),
        status=params.get("MessageStatus", params.get("SmsStatus", "")),
        error_code=params.get("ErrorCode") or None,
        error_message=params.get("ErrorMessage") or None,
    )


def _classify(response: httpx.Response) -> SendError:
    data = _json(response)
    code = str(data.get("code")) if data.get("code") is not None else None
    text = f"Twilio error {code or response.status_code}: {data.get('message') or response.text}"
    status = response.status_code
    if status == 429 or status >= 500:
        return TransientError(text, code=code, retry_after=_retry_after(response))
    if status == 401:
        return AccountError(text, code=code)
    return PermanentError(text, code=code)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _url_variants(url: str) -> list[str]:
    # Twilio signs the URL as configured, and setups differ on writing the default port.
    parts = urlsplit(url)
    match = _NETLOC.fullmatch(parts.netloc)
    if match is None:
        return [url]
    host, port = match["host"], match["port"]
    default = {"https": "443", "http": "80"}.get(parts.scheme.lower())
    other = host if port else f"{host}:{default}" if default else parts.netloc
    return list(dict.fromkeys([url, urlunsplit(parts._replace(netloc=other))]))


_NETLOC = re.compile(r"(?P<host>.*?)(?::(?P<port>\d+))?")
