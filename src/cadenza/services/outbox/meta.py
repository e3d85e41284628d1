"""What an outbox row carries besides its columns: one typed shape, kept as JSON.

Every writer and reader of a message's `meta` goes through `MessageMeta`, so that a key is
spelled once. Defaults are left out of the stored JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadenza.core.reach import SendCheck


class Check(BaseModel):
    """The question the decision to send answered, asked again at sending (core.reach)."""

    model_config = ConfigDict(frozen=True)

    action: str
    zone: str
    quiet_start: str
    quiet_end: str

    @classmethod
    def of(cls, check: SendCheck) -> Check:
        return cls(
            action=check.action,
            zone=check.zone,
            quiet_start=check.quiet_start,
            quiet_end=check.quiet_end,
        )

    def as_send_check(self) -> SendCheck:
        return SendCheck(self.action, self.zone, self.quiet_start, self.quiet_end)


class MessageMeta(BaseModel):
    """A message's details by channel, and what it is (a notification, a HELP answer)."""

    model_config = ConfigDict(extra="ignore")

    # email
    message_id: str | None = None
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    track_opens: bool = False
    track_clicks: bool = False
    # The links written in the step's own template: the only ones clicks are tracked on.
    tracked_links: list[str] = Field(default_factory=list)
    # sms, mms, voicemail
    media: list[str] = Field(default_factory=list)
    audio: str = ""
    delivery_status: str | None = None
    # call (a dialer step): the step's dialer settings, see services.voice
    dialer: dict[str, Any] = Field(default_factory=dict)
    # webhook
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    # what the message is: to a user about the contact, or an answer to an inbound HELP
    notify: bool = False
    help: bool = False
    # Cadenza's own email to a user (an invitation, a password reset): no contact, no
    # unsubscribe, and a body that holds a sign-in link, so listings never show it.
    system: bool = False
    contact_ids: list[int] = Field(default_factory=list)
    check: Check | None = None
    # A manual email or text: the person who edited and sent it.
    sent_by: str | None = None
    # the A/B variant of its step the message is (what the reports count it under)
    variant: str | None = None

    @classmethod
    def read(cls, stored: dict[str, Any] | None) -> MessageMeta:
        """The meta of a stored row (absent keys take their defaults)."""
        return cls.model_validate(stored or {})

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the row: only what differs from the defaults."""
        return self.model_dump(mode="json", exclude_defaults=True)
