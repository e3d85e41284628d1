"""THE reach table (DESIGN.md section 5): what each action reaches, and what may stop it.

Every rule about reaching a contact is read from here and nowhere else: who may be enrolled,
what the machine runs or skips, what the dispatcher checks at the last moment, which steps
quiet hours confine, which sender a message is paced on and which exit a flag stands for.

A flag blocks the steps whose row names it: `dnc` every step that reaches the contact,
`sms_opted_out` (STOP, or any reasonable revocation) texts and automated calls to the number
(SMS, MMS, ringless voicemail, the progressive and preview dialers' calls; a person's own
call, from a task or the power dialer, is not automated), `email_unsubscribed`
and `email_bounced` email. A blocked step is skipped with the flag's reason; a sequence exits
on a flag only when its `exit.on` names the flag's exit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Flag = Literal["dnc", "sms_opted_out", "email_unsubscribed", "email_bounced"]
Channel = Literal["email", "sms", "mms", "call", "voicemail", "linkedin"]
SenderKind = Literal["email", "sms"]
Address = Literal["email", "phone"]


class Flags(Protocol):
    """A contact's compliance flags (a ContactView, a row, a simulated contact...)."""

    @property
    def dnc(self) -> bool: ...
    @property
    def sms_opted_out(self) -> bool: ...
    @property
    def email_unsubscribed(self) -> bool: ...
    @property
    def email_bounced(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class FlagRule:
    """A compliance flag: the exit name that stands for it and why a step it blocks is skipped."""

    flag: Flag
    exit: str
    reason: str
    label: str  # what the contact is, in a sentence: "contact is {label}"


FLAGS: dict[Flag, FlagRule] = {
    "dnc": FlagRule("dnc", "dnc", "contact is do-not-contact", "do-not-contact"),
    "sms_opted_out": FlagRule(
        "sms_opted_out",
        "sms_opted_out",
        "contact opted out of texts and automated calls (STOP)",
        "opted out of SMS",
    ),
    "email_unsubscribed": FlagRule(
        "email_unsubscribed", "unsubscribed", "contact unsubscribed from email", "unsubscribed"
    ),
    "email_bounced": FlagRule("email_bounced", "bounced", "contact's email bounced", "bounced"),
}
# The exit names of the flags, and the flag each one stands for.
FLAG_OF_EXIT: dict[str, Flag] = {rule.exit: flag for flag, rule in FLAGS.items()}
# Events that set a flag under a name of their own, and the exit names each one answers
# to: a spam complaint is an unsubscribe (it sets `email_unsubscribed`), so a sequence
# exits on it where `exit.on` names `complained` or `unsubscribed`.
EVENT_EXITS: dict[str, tuple[str, ...]] = {"complained": ("complained", "unsubscribed")}


def exit_names(event_type: str) -> tuple[str, ...]:
    """The exit names an event of this type answers to (its own name for most events)."""
    return EVENT_EXITS.get(event_type, (event_type,))


@dataclass(frozen=True, slots=True)
class Reach:
    """How one action reaches the contact.

    `channel`: the channel it reaches them on (None: it reaches nobody but users or systems).
    `quiet`: confined to time outside quiet hours in the recipient's local time.
    `sender`: the kind of sender it is sent from (and paced on); None for what a person does.
    `address`: what it needs of the contact; `blocked_by`: the flags that forbid it.
    `sent`: the dispatcher sends it from the outbox, and checks it again just before.
    """

    action: str
    channel: Channel | None = None
    quiet: bool = False
    sender: SenderKind | None = None
    address: Address | None = None
    blocked_by: tuple[Flag, ...] = ()
    sent: bool = False

    @property
    def reaches(self) -> bool:
        """True when the step reaches the contact (do-not-contact forbids it)."""
        return self.channel is not None


_EMAIL_FLAGS: tuple[Flag, ...] = ("dnc", "email_unsubscribed", "email_bounced")
_PHONE_FLAGS: tuple[Flag, ...] = ("dnc", "sms_opted_out")

TABLE: dict[str, Reach] = {
    "email": Reach("email", "email", False, "email", "email", _EMAIL_FLAGS, sent=True),
    "sms": Reach("sms", "sms", True, "sms", "phone", _PHONE_FLAGS, sent=True),
    "mms": Reach("mms", "mms", True, "sms", "phone", _PHONE_FLAGS, sent=True),
    "voicemail": Reach("voicemail", "voicemail", True, "sms", "phone", _PHONE_FLAGS, sent=True),
    "ringless_voicemail": Reach(
        "ringless_voicemail", "voicemail", True, "sms", "phone", _PHONE_FLAGS, sent=True
    ),
    # Calls the provider places for the sequence are automated calls: STOP forbids them too.
    "progressive_dialer": Reach(
        "progressive_dialer", "call", True, "sms", "phone", _PHONE_FLAGS, sent=True
    ),
    "preview_dialer": Reach(
        "preview_dialer", "call", True, "sms", "phone", _PHONE_FLAGS, sent=True
    ),
    "call": Reach("call", "call", True, None, "phone", ("dnc",)),
    "power_dialer": Reach("power_dialer", "call", True, None, "phone", ("dnc",)),
    "manual_email": Reach("manual_email", "email", False, None, "email", _EMAIL_FLAGS),
    "manual_sms": Reach("manual_sms", "sms", True, None, "phone", _PHONE_FLAGS),
    "linkedin": Reach("linkedin", "linkedin", False, None, None, ("dnc",)),
}
_NOBODY: dict[str, Reach] = {}


def of(action: str) -> Reach:
    """The action's row; actions that reach nobody (tags, tasks, webhooks...) get an empty one."""
    found = TABLE.get(action)
    if found is None:
        found = _NOBODY.get(action)
        if found is None:
            found = _NOBODY[action] = Reach(action)
    return found


def quiet_channels() -> frozenset[str]:
    """The channels quiet hours confine (texts, calls, voicemail)."""
    return frozenset(r.channel for r in TABLE.values() if r.quiet and r.channel is not None)


def blocked(action: str, contact: Flags) -> str | None:
    """Why the contact's flags forbid this action, if they do (the first flag's reason).

    A contact whose email domain is on the do-not-contact list (`domain_dnc`, set by the
    reader from `domain_blocked`) is reached by no step, on any channel.
    """
    row = of(action)
    for flag in row.blocked_by:
        if getattr(contact, flag):
            return FLAGS[flag].reason
    if row.reaches and getattr(contact, "domain_dnc", False):
        return DOMAIN_DNC
    return None


DOMAIN_DNC = "domain do-not-contact"


def email_domain(email: str | None) -> str | None:
    """The domain of an address, lowercased; None for what has none."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().strip(">").rstrip(".").lower() or None


def domain_blocked(email: str | None, blocked_domains: Collection[str]) -> bool:
    """Whether the address is at a blocked domain, or at a subdomain of one."""
    domain = email_domain(email)
    if domain is None or not blocked_domains:
        return False
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocked_domains for i in range(len(parts)))


def any_flag(contact: Flags) -> bool:
    """Whether any compliance flag is set (most contacts have none: one test for all four)."""
    return bool(
        contact.dnc or contact.sms_opted_out or contact.email_unsubscribed or contact.email_bounced
    )


def flag_exits(contact: Flags, exit_on: Collection[str]) -> str | None:
    """The first exit name in `exit_on` that a set flag stands for (`dnc`, `bounced`...)."""
    for flag, rule in FLAGS.items():
        if rule.exit in exit_on and getattr(contact, flag):
            return rule.exit
    return None


def unreachable(actions: Collection[str], contact: Flags) -> str | None:
    """Why none of these actions may reach the contact, when none may (else None).

    Only actions that reach the contact count: a sequence of tasks and webhooks is never
    refused for a flag.
    """
    reaching = [a for a in actions if of(a).reaches]
    if not reaching or not any_flag(contact):
        return None
    reasons = [blocked(action, contact) for action in reaching]
    if not all(reasons):
        return None
    if contact.dnc:
        return FLAGS["dnc"].reason
    named = [rule.label for flag, rule in FLAGS.items() if getattr(contact, flag)]
    return f"contact is {' and '.join(named)}: no step of this sequence may reach them"


@dataclass(frozen=True, slots=True)
class SendCheck:
    """What the decision to send a message used: checked again, the same way, at sending.

    `zone`: the recipient's zone the quiet hours were read in (the contact's, else the
    sequence's fallback); `quiet_start`/`quiet_end`: the quiet hours as HH:MM.
    """

    action: str
    zone: str
    quiet_start: str
    quiet_end: str


Verdict = tuple[Literal["send", "suppress", "defer"], str, datetime | None]
__all__ = [
    "DOMAIN_DNC",
    "EVENT_EXITS",
    "FLAGS",
    "FLAG_OF_EXIT",
    "TABLE",
    "Flag",
    "FlagRule",
    "Flags",
    "Reach",
    "SendCheck",
    "any_flag",
    "blocked",
    "domain_blocked",
    "email_domain",
    "exit_names",
    "flag_exits",
    "of",
    "quiet_channels",
    "unreachable",
]
