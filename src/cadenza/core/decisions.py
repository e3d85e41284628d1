"""What the transition function hands back: the enrollment's next state, effects and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cadenza.core.contact import ContactView

Status = Literal["active", "waiting", "paused", "completed", "exited", "removed"]
# A list holds the enrollments of the contacts taken off it, until they are added back.
HeldBy = Literal["person", "sequence", "list"]
LIVE = ("active", "waiting")
LIVE_OR_PAUSED = ("active", "waiting", "paused")
CLOSED = ("completed", "exited", "removed")


class StepFailed(Exception):
    """A step could not be carried out (a template that fails, no sender...): the reason."""


class Refused(Exception):
    """A person asked for a transition the enrollment's state does not allow: the reason."""


@dataclass(slots=True)
class EnrollmentState:
    """An enrollment as the machine sees it (the row's columns plus its `state` JSON).

    `paused_from`/`paused_by`: the status a paused enrollment had and who paused it;
    `depth`: how many sequences handed the contact on before it came here (the loop guard).
    """

    status: Status
    step: str | None  # the step due next, or the one being waited on
    due_at: datetime | None
    enrolled_at: datetime
    last_step_at: datetime | None = None
    visits: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, Any] | None = None  # {"kind": "task"|"wait_for", ...}
    outcome: str | None = None
    exit_reason: str | None = None
    paused_from: str | None = None
    paused_by: HeldBy | None = None
    depth: int = 0

    def copy(self) -> EnrollmentState:
        """A copy the machine may change (cheaper than dataclasses.replace on the hot path)."""
        return EnrollmentState(
            self.status,
            self.step,
            self.due_at,
            self.enrolled_at,
            self.last_step_at,
            dict(self.visits),
            self.waiting,
            self.outcome,
            self.exit_reason,
            self.paused_from,
            self.paused_by,
            self.depth,
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON kept in the enrollment row's `state` column."""
        data: dict[str, Any] = {"visits": self.visits}
        if self.waiting is not None:
            data["waiting"] = self.waiting
        if self.depth:
            data["depth"] = self.depth
        return data

    @classmethod
    def from_row(
        cls,
        status: str,
        step: str | None,
        due_at: datetime | None,
        enrolled_at: datetime,
        last_step_at: datetime | None,
        outcome: str | None,
        exit_reason: str | None,
        state: dict[str, Any] | None,
        paused_from: str | None = None,
        paused_by: str | None = None,
    ) -> EnrollmentState:
        """The state an enrollment row's columns and `state` JSON hold."""
        extra = state or {}
        return cls(
            status,  # type: ignore[arg-type]
            step,
            due_at,
            enrolled_at,
            last_step_at,
            dict(extra.get("visits", {})),
            extra.get("waiting"),
            outcome,
            exit_reason,
            paused_from,
            paused_by,  # type: ignore[arg-type]
            int(extra.get("depth", 0)),
        )

    @property
    def waiting_on_task(self) -> bool:
        """True when the enrollment waits for a person to finish (or fix) a task."""
        return self.waiting is not None and self.waiting.get("kind") == "task"


@dataclass(frozen=True)
class Send:
    """Write a message for an automatic step to the outbox (email, sms, mms, voicemail...).

    `rows`: the outbox rows the situation's renderer made for it (None in a bare dry run).
    """

    step: str
    action: str
    visit: int
    rows: Any = None


@dataclass(frozen=True)
class ChangeContact:
    """Apply a contact change (tags, disposition, field, owner, DNC, dialer, enroll...)."""

    step: str
    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class CreateTask:
    """A manual step for a person, or a step that could not run (status error).

    `contact`: the contact as the step saw it (an owner set earlier in the same pass
    included), which the task's assignee and drafts are made from.
    """

    step: str
    kind: str
    visit: int
    status: Literal["open", "error"] = "open"
    reminder: bool = False
    error: str | None = None
    contact: ContactView | None = None


@dataclass(frozen=True)
class CloseTasks:
    """Resolve the enrollment's open tasks (those of one step, or all of them)."""

    status: Literal["canceled", "skipped", "done"] = "canceled"
    step: str | None = None
    errors_only: bool = False


@dataclass(frozen=True)
class MoveTasks:
    """The open tasks of a step now belong to another step (a migration mapped it)."""

    from_step: str
    to_step: str


@dataclass(frozen=True)
class Forget:
    """Remove the enrollment's history, tasks and unsent messages (as if never enrolled)."""


Effect = Send | ChangeContact | CreateTask | CloseTasks | MoveTasks | Forget


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row for the history: what happened to the enrollment, when and why."""

    type: str
    time: datetime
    step: str | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """The result of one call of the transition function."""

    state: EnrollmentState
    effects: list[Effect] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    def log(
        self, type_: str, time: datetime, step: str | None, reason: str | None = None, **data: Any
    ) -> None:
        self.history.append(HistoryEntry(type_, time, step, reason, data))
