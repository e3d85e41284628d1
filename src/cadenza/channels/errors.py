"""Channel errors: send failures the dispatcher retries or gives up on, and bad input."""

from __future__ import annotations

from cadenza.errors import CadenzaError


class SendError(Exception):
    """A message was not handed over to its provider; `code` is the provider's, when known."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientError(SendError):
    """The same message may succeed later: retry it with the same key, after a backoff.

    `retry_after` is the provider's own wait in seconds when it said one (HTTP 429).
    """

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(SendError):
    """The provider refused this message for good: retrying it will not help."""


class AccountError(TransientError):
    """The provider refused our account (credentials, TLS): every message would fail alike.

    Transient on purpose: the messages are fine, so they should go once the configuration
    is fixed instead of all being marked failed.
    """


class UnsupportedByProvider(PermanentError):
    """The configured provider cannot do this (e.g. ringless voicemail on Twilio)."""


class BlockedDestination(PermanentError):
    """A webhook URL points where Cadenza refuses to send (SSRF guard, scheme, redirect)."""


class InvalidMessage(PermanentError, CadenzaError):
    """A message cannot be built from what it was given (e.g. a sender with no domain)."""

    status = 422
    title = "Invalid message"


class InvalidToken(CadenzaError):
    """A tracking or unsubscribe token was forged, truncated or made for another purpose."""

    status = 404
    title = "Invalid or expired link"


class LeadParseError(CadenzaError):
    """A lead notification email had neither an email address nor a phone number."""

    status = 422
    title = "Lead could not be read"
