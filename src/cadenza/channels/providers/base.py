"""What every HTTP email provider shares: its protocol, its route, errors from HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from cadenza.channels.email import MimeEmail
from cadenza.channels.errors import AccountError, PermanentError, SendError, TransientError
from cadenza.channels.outgoing import OutgoingEmail, SendResult

if TYPE_CHECKING:
    import httpx

# The headers our messages carry that JSON APIs take apart from From, To, Subject and bodies.
PASSED_HEADERS = (
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
# Our idempotency key travels in each provider's custom data, and comes back in its events.
KEY_FIELD = "cadenza_key"


class EmailProvider(Protocol):
    """Sends one built email through an HTTP API."""

    def send(self, email: OutgoingEmail, mime: MimeEmail) -> SendResult:
        """Hand the message over, or raise SendError."""
        ...

    def close(self) -> None:
        """Let the HTTP connections go."""
        ...


@dataclass(frozen=True)
class ProviderRoute:
    """How a sender's email goes out: its provider and configuration, its DKIM key for SMTP."""

    provider: str = "smtp"
    config: tuple[tuple[str, Any], ...] = ()
    dkim_selector: str | None = None
    dkim_key: str | None = field(default=None, repr=False)

    @property
    def settings(self) -> dict[str, Any]:
        """The provider configuration as a dict."""
        return dict(self.config)


@dataclass(frozen=True)
class EmailParts:
    """A built email taken apart for providers that want fields rather than MIME."""

    sender: str
    to: list[str]
    cc: list[str]
    reply_to: str | None
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def parts_of(mime: MimeEmail) -> EmailParts:
    """The fields of a built email (headers unfolded, bodies decoded)."""
    parsed = message_from_bytes(mime.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, markup = parsed.get_body(("plain",)), parsed.get_body(("html",))
    headers = {name: _unfolded(parsed[name]) for name in PASSED_HEADERS if parsed[name]}
    return EmailParts(
        sender=_unfolded(parsed["From"]),
        to=_addresses(parsed["To"]),
        cc=_addresses(parsed["Cc"]),
        reply_to=_unfolded(parsed["Reply-To"]) if parsed["Reply-To"] else None,
        subject=_unfolded(parsed["Subject"] or ""),
        text=str(text.get_content()) if isinstance(text, EmailMessage) else "",
        html=str(markup.get_content()) if isinstance(markup, EmailMessage) else "",
        headers=headers,
    )


def _unfolded(value: object) -> str:
    return " ".join(str(value).split())


def _addresses(value: object) -> list[str]:
    if not value:
        return []
    return [str(a) for a in getattr(value, "addresses", ())] or [_unfolded(value)]


def secret(config: Mapping[str, Any], env: Mapping[str, str], name: str, provider: str) -> str:
    """The secret whose environment variable `config[name]` names; AccountError when unset."""
    variable = config.get(name)
    value = env.get(str(variable), "") if variable else ""
    if not value:
        where = f"${variable}" if variable else f"the {name} setting"
        raise AccountError(f"{provider}: no credentials: {where} is not set")
    return value


def raise_for(provider: str, response: httpx.Response, detail: str | None = None) -> None:
    """Nothing for a 2xx answer; else the retry decision for its status."""
    status = response.status_code
    if 200 <= status < 300:
        return
    text = f"{provider} answered {status}: {detail or _said(response)}"
    raise error_for(status, text, response.headers.get("Retry-After"))


def error_for(status: int, text: str, retry_after: str | None = None) -> SendError:
    """4xx refuse the message for good, except throttling and our account; 5xx are retried."""
    if status == 429:
        return TransientError(text, code=str(status), retry_after=_seconds(retry_after))
    if status in (401, 403):
        return AccountError(text, code=str(status))
    if status == 408 or status >= 500:
        return TransientError(text, code=str(status))
    return PermanentError(text, code=str(status))


def post(provider: str, client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with timeouts and network failures as transient errors."""
    import httpx  # ~150 ms to import: loaded by the providers that send, not by their readers

    try:
        return client.post(url, **kwargs)
    except httpx.TimeoutException:
        raise TransientError(f"{provider} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise TransientError(f"cannot reach {provider}: {exc}") from None


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an answer ({} when it is none)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _said(response: httpx.Response) -> str:
    data = body_of(response)
    for name in ("message", "Message", "errors", "error"):
        if name in data:
            return str(data[name])[:300]
    return response.text[:300]


def _seconds(value: str | None) -> float | None:
    try:
        return max(1.0, float(value)) if value else None
    except ValueError:
        return None
