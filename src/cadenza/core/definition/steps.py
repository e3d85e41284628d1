"""Steps and their routes: every action a definition may name, with its own fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from cadenza.core.definition.base import STEP_KEY, Model, Outcome
from cadenza.core.definition.conditions import Condition
from cadenza.core.definition.waits import Duration, Wait


class EndRoute(Model):
    end: Outcome


Route = Literal["next"] | str | EndRoute
POWER_DIALER_LIST = "power_dialer"
"""Where to go: `next`, a step key, or `{end: positive|negative|neutral}`."""

CALL_OUTCOMES: dict[str, Route] = {
    "no_answer": "next",
    "left_voicemail": "next",
    "interested": EndRoute(end="positive"),
    "not_interested": EndRoute(end="negative"),
}
CALL_ACTIONS = ("call", "power_dialer")  # manual steps whose outcomes are a call's
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


class Variant(Model):
    """One version of an A/B step's message: its share of sends and its own texts."""

    key: str = Field(pattern=STEP_KEY)
    weight: float = Field(default=1, ge=0)
    subject: str | None = None  # email only; the step's own when absent
    body: str | None = None  # the step's own when absent


class Winner(Model):
    """After `after` sends of every variant, the best by `metric` takes all new sends."""

    metric: Literal["replied", "opened", "clicked"]
    after: int = Field(ge=1)


class Variants(Model):
    """An A/B test on a message step: variants chosen per enrollment, maybe a winner."""

    variants: list[Variant] = Field(default_factory=list)
    winner: Winner | None = None

    @model_validator(mode="after")
    def _check_variants(self) -> Variants:
        keys = [v.key for v in self.variants]
        if self.variants and len(keys) < 2:
            raise ValueError("variants: an A/B step needs at least two variants")
        if len(set(keys)) < len(keys):
            raise ValueError(f"variants: duplicate key {_first_duplicate(keys)!r}")
        if self.variants and not sum(v.weight for v in self.variants):
            raise ValueError("variants: at least one variant needs a weight above 0")
        if self.winner is not None and not self.variants:
            raise ValueError("winner: only a step with variants has a winner")
        return self


def _first_duplicate(keys: list[str]) -> str:
    return next(k for i, k in enumerate(keys) if k in keys[:i])


class EmailStep(StepBase, Variants):
    action: Literal["email"]
    subject: str
    body: str
    thread: Literal["new", "reply_to_previous"] = "new"
    track: Tracking = Tracking()
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    sender: str | None = None


class SmsStep(StepBase, Variants):
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
    """Take the contact off a dialer list; `power_dialer` (the default) empties their queues."""

    action: Literal["remove_from_dialer"]
    list: str = Field(default=POWER_DIALER_LIST, min_length=1)


class RinglessVoicemailStep(StepBase):
    """Drop a recorded message into the contact's voicemail without ringing (via provider)."""

    action: Literal["ringless_voicemail"]
    recording: str = Field(min_length=1)  # the audio file's https URL
    sender: str | None = None


class AddLineStep(StepBase):
    """Give the contact a sticky outbound number, used for their texts and calls thereafter."""

    action: Literal["add_line"]
    line: str = Field(pattern=r"^\+[1-9]\d{6,14}$")


class DialerStepBase(StepBase):
    """A call the provider places for the sequence: the contact hears `message` on answer.

    `group`: the ring group whose agents take the call, in turn; `repeat`: how many times
    the message (or the preview announcement) is played while waiting for a key;
    `retries`: calls placed again after busy, no answer (or a machine, when `on_machine`
    says retry), `retry_after` apart; `remove_if_answered`: the enrollment exits once a
    person answered.
    """

    action: str
    group: str = Field(min_length=1)
    message: str = Field(
        default="Press 1 to talk to us now, 2 for a call back, or 9 to stop getting calls.",
        min_length=1,
    )
    repeat: int = Field(default=3, ge=1, le=10)
    retries: int = Field(default=0, ge=0, le=5)
    retry_after: Duration = Field(default_factory=lambda: Duration(minutes=30))
    remove_if_answered: bool = False
    sender: str | None = None


class ProgressiveDialerStep(DialerStepBase):
    """Call the contact first; a person hears the message and picks a key (1, 2 or 9)."""

    action: Literal["progressive_dialer"]
    on_machine: Literal["voicemail", "retry", "hang_up"] = "voicemail"
    voicemail: str | None = None  # a recording URL; else `voicemail_text` is spoken
    voicemail_text: str = "Sorry we missed you. We will try again soon."


class PreviewDialerStep(DialerStepBase):
    """Call the group's agents first, announce the contact until a key, then call the contact."""

    action: Literal["preview_dialer"]
    announcement: str = "Hey [AgentName], we're about to call [FirstName] [LastName] from [State]."


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
        return dict(CALL_OUTCOMES if self.action in CALL_ACTIONS else TASK_OUTCOMES)


class CallStep(ManualStepBase):
    action: Literal["call"]


class PowerDialerStep(ManualStepBase):
    """Put the contact in the assignee's power-dialer queue; the call's outcome moves on."""

    action: Literal["power_dialer"]
    script: str = ""


class TaskStep(ManualStepBase):
    action: Literal["task"]


class ManualEmailStep(ManualStepBase):
    """An email a person edits and sends: threaded, tracked and sent as an `email` step is."""

    action: Literal["manual_email"]
    subject: str = ""
    body: str = ""
    thread: Literal["new", "reply_to_previous"] = "new"
    track: Tracking = Tracking()
    sender: str | None = None


class ManualSmsStep(ManualStepBase):
    action: Literal["manual_sms"]
    body: str = ""
    sender: str | None = None


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
    | RinglessVoicemailStep
    | AddLineStep
    | ProgressiveDialerStep
    | PreviewDialerStep
    | EnrollStep
    | UnenrollStep
    | CallStep
    | PowerDialerStep
    | TaskStep
    | ManualEmailStep
    | ManualSmsStep
    | LinkedinStep
    | WaitForStep
    | BranchStep
    | EndStep,
    Field(discriminator="action"),
]

DIALER_ACTIONS = {"progressive_dialer", "preview_dialer"}
AUTOMATIC_MESSAGES = {
    "email", "sms", "mms", "voicemail", "ringless_voicemail", "notify", "webhook", *DIALER_ACTIONS
}  # fmt: skip
CONTACT_CHANGES = {
    "add_tag",
    "remove_tag",
    "set_disposition",
    "set_field",
    "set_owner",
    "mark_dnc",
    "add_to_dialer",
    "remove_from_dialer",
    "add_line",
    "enroll",
    "unenroll",
}
MANUAL_ACTIONS = {"call", "power_dialer", "task", "manual_email", "manual_sms", "linkedin"}
CONTROL_ACTIONS = {"wait_for", "branch", "end"}
ACTIONS = AUTOMATIC_MESSAGES | CONTACT_CHANGES | MANUAL_ACTIONS | CONTROL_ACTIONS


BranchCase.model_rebuild()
