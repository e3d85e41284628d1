"""A whole definition: senders, schedule, enrollment and exit rules, and its steps."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from cadenza.core.definition.base import LocalTime, Model
from cadenza.core.definition.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
)
from cadenza.core.definition.schedule import Limits, Schedule
from cadenza.core.definition.steps import BranchStep, Step
from cadenza.core.definition.waits import Duration

# --- enrollment and exit ---------------------------------------------------------------------

TriggerEvent = Literal[
    "contact_created",
    "tag_added",
    "tag_removed",
    "disposition_changed",
    "call_logged",
    "dnc_changed",
    "appointment_scheduled",
    "appointment_shown",
    "appointment_canceled",
    "lead_email_received",
]


class Trigger(Model):
    on: TriggerEvent
    action: Literal["enroll", "exit"] = "enroll"
    tag: str | None = None
    to: str | None = None  # disposition_changed: the new disposition
    from_: str | None = Field(default=None, alias="from")
    disposition: str | None = None  # call_logged
    min_duration: int | None = Field(default=None, ge=0)  # call_logged, seconds
    # call_logged: which duration `min_duration` reads (talk is the `duration` of the event).
    measure: Literal["talk", "wait", "total"] | None = None
    direction: Literal["inbound", "outbound"] | None = None  # call_logged
    dnc: bool | None = None  # dnc_changed: the new value

    @model_validator(mode="after")
    def _fits(self) -> Trigger:
        if self.tag is not None and self.on not in ("tag_added", "tag_removed"):
            raise ValueError(f"'tag' applies to tag_added and tag_removed, not {self.on}")
        if (self.to or self.from_) and self.on != "disposition_changed":
            raise ValueError(f"'to'/'from' apply to disposition_changed, not {self.on}")
        call_only = self.disposition or self.min_duration is not None or self.direction
        if (call_only or self.measure) and self.on != "call_logged":
            raise ValueError(
                f"'disposition'/'min_duration'/'measure'/'direction' apply to call_logged, "
                f"not {self.on}"
            )
        if self.measure and self.min_duration is None:
            raise ValueError("'measure' says which duration 'min_duration' reads: give both")
        return self


class Audience(Model):
    """A standing entry rule: a saved view's contacts, or contacts meeting a condition."""

    view: str | None = Field(default=None, min_length=1, max_length=200)
    when: Condition | None = None

    @model_validator(mode="after")
    def _one(self) -> Audience:
        if (self.view is None) == (self.when is None):
            raise ValueError("an audience is either {view: NAME} or {when: CONDITION}")
        return self


class EnrollmentPolicy(Model):
    reentry: Literal["never", "after_exit", "always"] = "never"
    only_enroll_between: LocalTime | None = None
    # true = an inbound message in the last 30 minutes; a number = that many minutes.
    skip_if_communicating: bool | int = False
    triggers: list[Trigger] = Field(default_factory=list)
    audience: Audience | None = None
    # How often the audience is evaluated anyway (it also is soon after a contact changes).
    every: Duration | None = None

    @model_validator(mode="after")
    def _every_needs_audience(self) -> EnrollmentPolicy:
        if self.every is not None and self.audience is None:
            raise ValueError("'every' says how often the audience is evaluated: give 'audience'")
        return self

    @property
    def audience_minutes(self) -> int:
        """Minutes between evaluations of the audience (15 unless `every` says otherwise)."""
        return self.every.total_minutes if self.every is not None else 15
    # The list the sequence serves: adding a contact to it enrolls them, removing pauses them.
    list_: str | None = Field(
        default=None,
        alias="list",
        min_length=1,
        max_length=200,
        description="The list this sequence serves: adding a contact enrolls them, removing "
        "pauses them at their step, adding back resumes there (one active sequence per list)",
    )

    @property
    def communicating_minutes(self) -> int:
        value = self.skip_if_communicating
        if value is True:
            return 30
        return 0 if value is False else int(value)


ExitEvent = Literal[
    "replied",
    "unsubscribed",
    "complained",
    "bounced",
    "sms_opted_out",
    "dnc",
    "manual_call",
    "meeting_booked",
    "call_logged",
    "call_answered",
    "out_of_office",
]


class ExitRules(Model):
    # None: on a reply, on do-not-contact, and on the opt-outs of the channels the steps
    # reach (`machine.exits.exit_events`); a list replaces all of that.
    on: list[ExitEvent] | None = None
    when: Condition | None = None
    # A reply from anyone else at the contact's company (its domains) counts as theirs:
    # the enrollment exits as it would on their own reply (`on` must name `replied`).
    company_replies: bool = Field(
        default=False,
        description="A reply from anyone at the contact's company (its email domain; never a "
        "free-mail one) exits the contact as their own reply would",
    )

    @model_validator(mode="after")
    def _company_needs_replied(self) -> ExitRules:
        if self.company_replies and self.on is not None and "replied" not in self.on:
            raise ValueError("'company_replies' exits on a reply: 'on' must name 'replied'")
        return self


def _mailbox(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class Senders(Model):
    email: str | None = None
    sms: str | None = None
    # Mailboxes email steps rotate through under their caps (with `email`, first when set);
    # an enrollment's thread stays with the mailbox that started it.
    email_rotation: list[Annotated[str, AfterValidator(_mailbox)]] = Field(
        default_factory=list, max_length=50
    )

    def email_pool(self) -> list[str]:
        """The mailboxes email steps may use, in rotation order."""
        return list(dict.fromkeys([*([self.email] if self.email else []), *self.email_rotation]))


def _emailish(value: str) -> str:
    # The shape only: apply checks that the user exists, and names them if not.
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError(f"{value!r} is not a user's email")
    return value


UserEmail = Annotated[str, AfterValidator(_emailish)]


class Sharing(Model):
    """Who besides the owner sees the sequence (`team`: the owner's groups) and with what."""

    mode: Literal["private", "team", "everyone"] = "everyone"
    access: Literal["view", "edit"] = "view"


class Definition(Model):
    """One version of a sequence, exactly as written (templates inlined by `apply`)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    owner: str | None = None
    # None: as stored (a new sequence is shared with everyone, view only); see README.
    sharing: Sharing | None = None
    # Users (emails) who see the sequence and work its tasks besides its owner.
    team: list[UserEmail] | None = Field(default=None, max_length=1000)
    senders: Senders = Senders()
    schedule: Schedule = Schedule()
    limits: Limits = Limits()
    enrollment: EnrollmentPolicy = EnrollmentPolicy()
    exit: ExitRules = ExitRules()
    steps: list[Step] = Field(min_length=1)

    def step_index(self, key: str) -> int:
        for index, step in enumerate(self.steps):
            if step.key == key:
                return index
        raise KeyError(key)

    def step(self, key: str) -> Step:
        return self.steps[self.step_index(key)]


def _conditions_of(definition: Definition) -> list[Any]:
    found: list[Any] = [definition.exit.when]
    for step in definition.steps:
        found.append(step.when)
        if isinstance(step, BranchStep):
            found.extend(case.when for case in step.branches)
    return [c for c in found if c is not None]


def condition_reads_events(condition: Any) -> bool:
    """Whether the condition, anywhere within it, looks at the contact's events."""
    if isinstance(condition, EventCondition):
        return True
    if isinstance(condition, AllCondition):
        return any(condition_reads_events(c) for c in condition.all)
    if isinstance(condition, AnyCondition):
        return any(condition_reads_events(c) for c in condition.any)
    if isinstance(condition, NotCondition):
        return condition_reads_events(condition.not_)
    return False


def uses_events(definition: Definition) -> bool:
    """Whether any condition of the definition looks at events (the worker loads them then)."""
    return any(condition_reads_events(c) for c in _conditions_of(definition))
