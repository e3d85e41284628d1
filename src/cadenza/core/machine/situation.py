"""What the transition function reads besides the enrollment's own state, and its helpers.

The machine never reads a clock, a database or the network: whatever it needs of the world
comes in the `Situation`, as values (the contact, the events seen, *now*) or as the three
small seams a caller fills in: capacity (`Limiter`), the people an owner rule names
(`Directory`) and the messages a step renders into (`Renderer`). Each may raise
`StepFailed`, which makes the step an error task for a person; the worker fills them from the
database, the dry run from the definition alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cadenza.core import calendar, reach
from cadenza.core.contact import ContactView
from cadenza.core.decisions import CloseTasks, Decision, EnrollmentState
from cadenza.core.definition import Definition, Step
from cadenza.core.events import EventRecord

MAX_STEPS_PER_CALL = 100  # lint refuses loops without waits; this is the last safety net


class Limiter(Protocol):
    """Capacity for a step (sequence throttle, sender caps), supplied by the engine."""

    def hold(self, step: Step, now: datetime) -> tuple[datetime, str] | None:
        """None when the step may run now, else when capacity returns and why."""
        ...


class Directory(Protocol):
    """The people that owner rules name, as they are now."""

    def owner(self, rule: str) -> str | None:
        """The email of the user `user:<email>` or `round_robin:<group>` gives now.

        None when it cannot be known (a dry run's round robin); StepFailed when nobody can
        be (an unknown user, an empty group).
        """
        ...


class Renderer(Protocol):
    """Turns an automatic step into the messages it sends (outbox rows, opaque here)."""

    def render(
        self, step: Step, contact: ContactView, visit: int, check: reach.SendCheck | None
    ) -> Any:
        """The step's messages for this contact and visit; StepFailed when it cannot."""
        ...


@dataclass(slots=True)
class Situation:
    """Everything the machine reads besides the enrollment's own state."""

    definition: Definition
    contact: ContactView
    now: datetime
    events: Sequence[EventRecord] = ()
    sequence_status: str = "active"
    quiet: calendar.QuietHours = calendar.DEFAULT_QUIET
    limiter: Limiter | None = None
    directory: Directory | None = None
    renderer: Renderer | None = None


def iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


def finish(decision: Decision, now: datetime, outcome: str, reason: str) -> None:
    """The enrollment completes with an outcome."""
    state = decision.state
    state.status, state.due_at, state.waiting = "completed", None, None
    state.outcome = outcome
    decision.log("completed", now, state.step, reason, outcome=outcome)


def leave(decision: Decision, now: datetime, reason: str) -> None:
    """The enrollment exits with a reason; its open tasks leave people's to-do lists."""
    state = decision.state
    state.status, state.due_at, state.waiting = "exited", None, None
    state.paused_from = state.paused_by = None
    state.exit_reason = reason
    decision.effects.append(CloseTasks())
    decision.log("exited", now, state.step, reason)


def block_on_task(state: EnrollmentState, key: str) -> None:
    """The enrollment waits for a person to finish (or fix) the task of step `key`."""
    state.status, state.step, state.due_at = "waiting", key, None
    state.waiting = {"kind": "task", "step": key}
