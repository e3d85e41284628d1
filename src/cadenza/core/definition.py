"""The sequence-as-code model (DESIGN.md section 4), parsed and validated with pydantic v2.

This module checks the shape of a definition and each field on its own. Checks that look at
the whole step graph or at templates live in `core.lint`, which reports every problem at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from cadenza.core.zones import is_holiday_calendar, is_timezone

STEP_KEY = r"^[a-z0-9][a-z0-9_\-]*$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Outcome = Literal["positive", "negative", "neutral"]
Channel = Literal["email", "sms", "mms", "call", "voicemail", "none"]


class Model(BaseModel):
    # Validators are built on first use: the worker only ever validates whole definitions,
    # so the fifty part-models never build (and keep) validators of their own there.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, str):
        # ":00" seconds are accepted so that a stored definition, whose times
        # model_dump() writes as HH:MM:SS, validates again.
        if not re.fullmatch(r"\d{1,2}:\d{2}(:00)?", value.strip()):
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        hours, minutes = (int(p) for p in value.strip().split(":")[:2])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59)")
        return time(hours, minutes)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 10:00 as the sexagesimal number 600.
        return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
    return value


class LocalTime(Model):
    """A window of local time, open inclusive, close exclusive, within one day."""

    open: time
    close: time

    _hhmm = field_validator("open", "close", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _same_day(self) -> LocalTime:
        if self.close <= self.open:
            raise ValueError(
                f"closing time {self.close:%H:%M} is not after opening time {self.open:%H:%M}: "
                "hours that cross midnight are not supported"
            )
        return self


class Schedule(Model):
    """When steps may fire: the send policy."""

    timezone: str = "contact"
    fallback_timezone: str = "America/New_York"
    days: Literal["every_day", "business"] | list[Weekday] = "business"
    hours: LocalTime | None = None
    holidays: str = "us-sales"
    extra_holidays: list[date] = Field(default_factory=list)
    run_on_holidays: bool = False
    begin: datetime | None = None
    end: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value != "contact" and not is_timezone(value):
            raise ValueError(f"unknown time zone {value!r} (use 'contact' or an IANA name)")
        return value

    @field_validator("fallback_timezone")
    @classmethod
    def _fallback(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @field_validator("holidays")
    @classmethod
    def _calendar(cls, value: str) -> str:
        if not is_holiday_calendar(value):
            raise ValueError(
                f"unknown holiday calendar {value!r} "
                "(use us-sales, none, or a country code such as US, GB or CA-ON)"
            )
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("days must name at least one weekday")
        return value

    @field_validator("begin", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("begin and end need a UTC offset, e.g. 2026-12-01T08:00:00-05:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.begin and self.end and self.end <= self.begin:
            raise ValueError("end must be after begin")
        return self


class Limits(Model):
    throttle_per_minute: int | None = Field(default=None, gt=0)


# --- durations and waits -----------------------------------------------------------------


class Duration(Model):
    """An elapsed time: any of minutes, hours, days (added together)."""

    minutes: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Duration:
        if self.minutes == self.hours == self.days == 0:
            raise ValueError("a duration needs minutes, hours or days greater than 0")
        return self

    @property
    def total_minutes(self) -> int:
        return self.minutes + 60 * self.hours + 1440 * self.days


class WaitElapsed(Duration):
    """`{minutes|hours|days: N}`: elapsed time since the previous step."""


class WaitBusinessDays(Model):
    """`{business_days: N}`: the same local time N business days later."""

    business_days: int = Field(ge=0)


class WaitDaysAt(Model):
    """`{days: N, at: "HH:MM"}`: N calendar days later, at that local time."""

    days: int = Field(ge=0)
    at: time

    _hhmm = field_validator("at", mode="before")(_parse_hhmm)


class WaitDayAt(Model):
    """`{day: N, at: "HH:MM"}`: on day N of the enrollment (day 1 = enrollment's local date)."""

    day: int = Field(ge=1)
    at: time

    _hhmm = field_validator("at", mode="before")(_parse_hhmm)


def _wait_kind(value: Any) -> str:
    if value is None or value == "none":
        return "none"
    if isinstance(value, dict):
        if "business_days" in value:
            return "business_days"
        if "day" in value:
            return "day_at"
        if "at" in value:
            return "days_at"
        return "elapsed"
    if isinstance(value, BaseModel):
        return {
            WaitBusinessDays: "business_days",
            WaitDayAt: "day_at",
            WaitDaysAt: "days_at",
        }.get(type(value), "elapsed")
    return "none"


Wait = Annotated[
    Annotated[Literal["none"], Tag("none")]
    | Annotated[WaitElapsed, Tag("elapsed")]
    | Annotated[WaitBusinessDays, Tag("business_days")]
    | Annotated[WaitDaysAt, Tag("days_at")]
    | Annotated[WaitDayAt, Tag("day_at")],
    Discriminator(_wait_kind),
]


# --- conditions -----------------------------------------------------------------------------

FieldOp = Literal["eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "exists"]


class FieldCondition(Model):
    field: str
    op: FieldOp = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits(self) -> FieldCondition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        return self


class TagCondition(Model):
    tag: str


class EventCondition(Model):
    event: str
    step: str | None = None
    within: Duration | None = None


class AllCondition(Model):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Model):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Model):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not", "tag", "event", "field"):
            if key in value:
                return key
        return None
    kinds: dict[type, str] = {
        AllCondition: "all",
        AnyCondition: "any",
        NotCondition: "not",
        TagCondition: "tag",
        EventCondition: "event",
        FieldCondition: "field",
    }
    return kinds.get(type(value))


Condition = Annotated[
    Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[FieldCondition, Tag("field")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition needs one of: field, tag, event, all, any, not",
    ),
]

# --- routes ---------------------------------------------------------------------------------


class EndRoute(Model):
    end: Outcome


Route = Literal["next"] | str | EndRoute
"""Where to go: `next`, a step key, or `{end: positive|negative|neutral}`."""

CALL_OUTCOMES: dict[str, Route] = {
    "no_answer": "next",
    "left_voicemail": "next",
    "interested": EndRoute(end="positive"),
    "not_interested": EndRoute(end="negative"),
}
TASK_OUTCOMES: dict[str, Route] = {
    "none": "next",
    "positive": EndRoute(end="positive"),
    "negative": EndRoute(end="negative"),
}

# --- steps ----------------------------------------------------------------------------------


class StepBase(Model):
    key: str = Field(pattern=STEP_KEY)
    name: str | None = None
    wait: Wait = "none"
    when: Condition | None = None


class Tracking(Model):
    opens: bool = False
    clicks: bool = False


class EmailStep(StepBase):
    action: Literal["email"]
    subject: str
    body: str
    thread: Literal["new", "reply_to_previous"] = "new"
    track: Tracking = Tracking()
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    sender: str | None = None


class SmsStep(StepBase):
    action: Literal["sms"]
    body: str
    sender: str | None = None


class MmsStep(StepBase):
    action: Literal["mms"]
    body: str = ""
    media: list[str] = Field(min_length=1)
    sender: str | None = None


class VoicemailStep(StepBase):
    action: Literal["voicemail"]
    audio: str
    sender: str | None = None


class NotifyStep(StepBase):
    """Email or text a user or group with the contact's details."""

    action: Literal["notify"]
    to: str  # owner | user:<email> | group:<name>
    via: Literal["email", "sms"] = "email"
    subject: str = "Sequence update: {{ contact.first_name }} {{ contact.last_name }}"
    body: str = "{{ contact.first_name }} {{ contact.last_name }} reached {{ sequence.name }}."

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        if value != "owner" and not value.startswith(("user:", "group:")):
            raise ValueError("notify 'to' is owner, user:<email> or group:<name>")
        return value


class WebhookStep(StepBase):
    action: Literal["webhook"]
    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)


class AddTagStep(StepBase):
    action: Literal["add_tag"]
    tag: str = Field(min_length=1)


class RemoveTagStep(StepBase):
    action: Literal["remove_tag"]
    tag: str = Field(min_length=1)


class SetDispositionStep(StepBase):
    action: Literal["set_disposition"]
    disposition: str = Field(min_length=1)


class SetFieldStep(StepBase):
    action: Literal["set_field"]
    field: str = Field(min_length=1)
    value: Any = None


class SetOwnerStep(StepBase):
    action: Literal["set_owner"]
    owner: str  # user:<email> | round_robin:<group>

    @field_validator("owner")
    @classmethod
    def _rule(cls, value: str) -> str:
        if not value.startswith(("user:", "round_robin:")):
            raise ValueError("set_owner 'owner' is user:<email> or round_robin:<group>")
        return value


class MarkDncStep(StepBase):
    action: Literal["mark_dnc"]


class AddToDialerStep(StepBase):
    action: Literal["add_to_dialer"]
    list: str = Field(min_length=1)


class RemoveFromDialerStep(StepBase):
    action: Literal["remove_from_dialer"]
    list: str = Field(min_length=1)


class EnrollStep(StepBase):
    action: Literal["enroll"]
    sequence: str = Field(min_length=1)


class UnenrollStep(StepBase):
    action: Literal["unenroll"]
    sequence: str = Field(min_length=1)


ASSIGNEE_RULE = r"^(initiator|contact_owner|company_owner|user:.+|round_robin:.+)$"


class ManualStepBase(StepBase):
    """A step for a person: it creates a task and blocks until done (unless a reminder)."""

    action: str
    assignee: str | None = Field(default=None, pattern=ASSIGNEE_RULE)
    reminder: bool = False
    priority: Literal["low", "normal", "high"] = "normal"
    title: str | None = None
    instructions: str | None = None
    outcomes: dict[str, Route | None] | None = None

    def outcome_routes(self) -> dict[str, Route | None]:
        """The outcomes a person may pick and where each leads."""
        if self.outcomes is not None:
            return dict(self.outcomes)
        return dict(CALL_OUTCOMES if self.action == "call" else TASK_OUTCOMES)


class CallStep(ManualStepBase):
    action: Literal["call"]


class TaskStep(ManualStepBase):
    action: Literal["task"]


class ManualEmailStep(ManualStepBase):
    action: Literal["manual_email"]
    subject: str = ""
    body: str = ""


class ManualSmsStep(ManualStepBase):
    action: Literal["manual_sms"]
    body: str = ""


class LinkedinStep(ManualStepBase):
    action: Literal["linkedin"]


class WaitForStep(StepBase):
    action: Literal["wait_for"]
    events: list[str] = Field(min_length=1)
    timeout: Duration
    routes: dict[str, Route] = Field(default_factory=dict)

    def route_for(self, event: str) -> Route:
        return self.routes.get(event, "next")


class BranchCase(Model):
    when: Condition
    to: Route


class BranchStep(StepBase):
    action: Literal["branch"]
    branches: list[BranchCase] = Field(min_length=1)
    otherwise: Route = "next"


class EndStep(StepBase):
    action: Literal["end"]
    outcome: Outcome = "neutral"


Step = Annotated[
    EmailStep
    | SmsStep
    | MmsStep
    | VoicemailStep
    | NotifyStep
    | WebhookStep
    | AddTagStep
    | RemoveTagStep
    | SetDispositionStep
    | SetFieldStep
    | SetOwnerStep
    | MarkDncStep
    | AddToDialerStep
    | RemoveFromDialerStep
    | EnrollStep
    | UnenrollStep
    | CallStep
    | TaskStep
    | ManualEmailStep
    | ManualSmsStep
    | LinkedinStep
    | WaitForStep
    | BranchStep
    | EndStep,
    Field(discriminator="action"),
]

AUTOMATIC_MESSAGES = {"email", "sms", "mms", "voicemail", "notify", "webhook"}
CONTACT_CHANGES = {
    "add_tag",
    "remove_tag",
    "set_disposition",
    "set_field",
    "set_owner",
    "mark_dnc",
    "add_to_dialer",
    "remove_from_dialer",
    "enroll",
    "unenroll",
}
MANUAL_ACTIONS = {"call", "task", "manual_email", "manual_sms", "linkedin"}
CONTROL_ACTIONS = {"wait_for", "branch", "end"}
ACTIONS = AUTOMATIC_MESSAGES | CONTACT_CHANGES | MANUAL_ACTIONS | CONTROL_ACTIONS

# The channel whose compliance rules (quiet hours, opt-outs) apply to an action.
ACTION_CHANNEL: dict[str, Channel] = {
    "email": "email",
    "manual_email": "email",
    "sms": "sms",
    "manual_sms": "sms",
    "mms": "mms",
    "call": "call",
    "voicemail": "voicemail",
}

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
    dnc: bool | None = None  # dnc_changed: the new value

    @model_validator(mode="after")
    def _fits(self) -> Trigger:
        if self.tag is not None and self.on not in ("tag_added", "tag_removed"):
            raise ValueError(f"'tag' applies to tag_added and tag_removed, not {self.on}")
        if (self.to or self.from_) and self.on != "disposition_changed":
            raise ValueError(f"'to'/'from' apply to disposition_changed, not {self.on}")
        if (self.disposition or self.min_duration is not None) and self.on != "call_logged":
            raise ValueError(f"'disposition'/'min_duration' apply to call_logged, not {self.on}")
        return self


class EnrollmentPolicy(Model):
    reentry: Literal["never", "after_exit", "always"] = "never"
    only_enroll_between: LocalTime | None = None
    # true = an inbound message in the last 30 minutes; a number = that many minutes.
    skip_if_communicating: bool | int = False
    triggers: list[Trigger] = Field(default_factory=list)

    @property
    def communicating_minutes(self) -> int:
        value = self.skip_if_communicating
        if value is True:
            return 30
        return 0 if value is False else int(value)


ExitEvent = Literal[
    "replied",
    "unsubscribed",
    "bounced",
    "sms_opted_out",
    "dnc",
    "manual_call",
    "meeting_booked",
    "call_logged",
    "out_of_office",
]
DEFAULT_EXIT: list[ExitEvent] = ["replied", "unsubscribed", "bounced", "sms_opted_out", "dnc"]


class ExitRules(Model):
    on: list[ExitEvent] = Field(default_factory=lambda: list(DEFAULT_EXIT))
    when: Condition | None = None


class Senders(Model):
    email: str | None = None
    sms: str | None = None


class Definition(Model):
    """One version of a sequence, exactly as written (templates inlined by `apply`)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    owner: str | None = None
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

    def channels(self) -> set[Channel]:
        """The channels this sequence reaches contacts on (for enrollment refusals)."""
        return {ACTION_CHANNEL[s.action] for s in self.steps if s.action in ACTION_CHANNEL}


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
BranchCase.model_rebuild()


def _conditions_of(definition: Definition) -> list[Any]:
    found: list[Any] = [definition.exit.when]
    for step in definition.steps:
        found.append(step.when)
        if isinstance(step, BranchStep):
            found.extend(case.when for case in step.branches)
    return [c for c in found if c is not None]


def _has_event(condition: Any) -> bool:
    if isinstance(condition, EventCondition):
        return True
    if isinstance(condition, AllCondition):
        return any(_has_event(c) for c in condition.all)
    if isinstance(condition, AnyCondition):
        return any(_has_event(c) for c in condition.any)
    if isinstance(condition, NotCondition):
        return _has_event(condition.not_)
    return False


def uses_events(definition: Definition) -> bool:
    """Whether any condition of the definition looks at events (the worker loads them then)."""
    return any(_has_event(c) for c in _conditions_of(definition))
