"""What the transition function hands back: the enrollment's next state, effects and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["active", "waiting", "paused", "completed", "exited", "removed"]
LIVE = ("active", "waiting")


@dataclass(slots=True)
class EnrollmentState:
    """An enrollment as the machine sees it (the row's columns plus its `state` JSON)."""

    status: Status
    step: str | None  # the step due next, or the one being waited on
    due_at: datetime | None
    enrolled_at: datetime
    last_step_at: datetime | None = None
    visits: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, Any] | None = None  # {"kind": "task"|"wait_for", ...}
    outcome: str | None = None
    exit_reason: str | None = None

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
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON kept in the enrollment row's `state` column."""
        data: dict[str, Any] = {"visits": self.visits}
        if self.waiting is not None:
            data["waiting"] = self.waiting
        return data


@dataclass(frozen=True)
class Send:
    """Write a message for an automatic step to the outbox (email, sms, mms, voicemail...)."""

    step: str
    action: str
    visit: int


@dataclass(frozen=True)
class ChangeContact:
    """Apply a contact change (tags, disposition, field, owner, DNC, dialer, enroll...)."""

    step: str
    action: str
    params: dict[str, Any]


@dataclass(frozen=True)
class CreateTask:
    """A manual step for a person, or an automatic step that could not run (status error)."""

    step: str
    kind: str
    visit: int
    status: Literal["open", "error"] = "open"
    reminder: bool = False
    error: str | None = None


Effect = Send | ChangeContact | CreateTask


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
