"""Inbound texts: what a contact's reply means (opt out, opt back in, help, or a reply)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class SmsIntent(StrEnum):
    """What an inbound text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REPLY = "reply"


@dataclass(frozen=True)
class InboundSms:
    """A text a contact sent to one of our numbers, as the provider reported it."""

    provider_id: str
    from_number: str
    to_number: str
    body: str
    media: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SmsStatus:
    """A delivery report for a text we sent (`queued`, `sent`, `delivered`, `failed`...)."""

    provider_id: str
    status: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        """True when the carrier gave up on the message."""
        return self.status in {"failed", "undelivered"}


# Carrier keywords (CTIA): the whole message must be the keyword, so "stop by at 5" is a
# reply a person should read, not an opt-out. Space and dash variants are common on phones.
_OPT_OUT = frozenset(
    {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
     "OPT OUT", "OPT-OUT"}
)  # fmt: skip
_OPT_IN = frozenset({"START", "UNSTOP"})
_HELP = frozenset({"HELP", "INFO"})
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def classify_sms(body: str) -> SmsIntent:
    """The intent of an inbound text: a keyword alone (any case, punctuation around) or a reply."""
    word = " ".join(_EDGES.sub("", body.strip()).split()).upper()
    if word in _OPT_OUT:
        return SmsIntent.OPT_OUT
    if word in _OPT_IN:
        return SmsIntent.OPT_IN
    if word in _HELP:
        return SmsIntent.HELP
    return SmsIntent.REPLY
