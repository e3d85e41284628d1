"""Applying the transition function's decisions inside the caller's transaction.

The worker, incoming events, task completions and people's operations all end here, so a
decision means the same thing whoever asked for it. The Applier changes nothing a decision
did not say: states, history, outbox rows and tasks are written as decided, and what reaches
beyond the enrollment (contact changes, hand-overs to other sequences) is handed back to the
caller as `Consequences`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from cadenza.core.decisions import (
    ChangeContact,
    CloseTasks,
    CreateTask,
    Decision,
    EnrollmentState,
    Forget,
    MoveTasks,
    Send,
)
from cadenza.core.definition import Definition
from cadenza.services import history
from cadenza.services.enrollments import task_rows
from cadenza.services.outbox import rendering as outbox
from cadenza.services.reports import counting
from cadenza.services.users.people import Directory
from cadenza.store import bulk, copies
from cadenza.store.models import Event, Message, Task

EVENTS: Table = Event.__table__  # type: ignore[assignment]

UNSENT = ("queued", "held")  # messages a removal takes back; sent ones are facts


@dataclass(slots=True)  # made for every step the worker runs: no frozen-init overhead
class Ref:
    """An enrollment's identity and whereabouts (`depth`: the trigger loop guard's count)."""

    id: int
    sequence_id: int
    sequence_name: str
    version_id: int
    contact_id: int
    initiator_id: int | None = None
    depth: int = 0


class EnrollmentRow(Protocol):
    """What Refs and states are read from: a claimed row, an ORM object or a Core row."""

    @property
    def id(self) -> int: ...
    @property
    def sequence_id(self) -> int: ...
    @property
    def version_id(self) -> int: ...
    @property
    def contact_id(self) -> int: ...
    @property
    def initiator_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def step(self) -> str | None: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def enrolled_at(self) -> datetime: ...
    @property
    def last_step_at(self) -> datetime | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def exit_reason(self) -> str | None: ...
    @property
    def state(self) -> dict[str, Any] | None: ...


def ref_of(row: EnrollmentRow, sequence_name: str, state: EnrollmentState) -> Ref:
    """The one way a Ref is made: from the enrollment's row and the state read from it."""
    return Ref(
        row.id,
        row.sequence_id,
        sequence_name,
        row.version_id,
        row.contact_id,
        row.initiator_id,
        state.depth,
    )


def state_of(row: EnrollmentRow) -> EnrollmentState:
    """The machine's view of an enrollment row (claimed by the worker, or an ORM object)."""
    return EnrollmentState.from_row(
        row.status,
        row.step,
        row.due_at,
        row.enrolled_at,
        row.last_step_at,
        row.outcome,
        row.exit_reason,
        row.state,
        getattr(row, "paused_from", None),  # a claimed row is live: never paused
        getattr(row, "paused_by", None),
    )


def columns_of(state: EnrollmentState, now: datetime) -> dict[str, Any]:
    """The enrollment columns a state writes."""
    return {
        "status": state.status,
        "step": state.step,
        "due_at": state.due_at,
        "last_step_at": state.last_step_at,
        "outcome": state.outcome,
        "exit_reason": state.exit_reason,
        "state": state.to_state(),
        "paused_from": state.paused_from,
        "paused_by": state.paused_by,
        "updated_at": now,
    }


@dataclass
class Consequences:
    """What applied decisions ask of the world beyond their enrollments, in the order made.

    Contact changes (with the enrollment that made them), and contacts handed to another
    sequence or taken out of one. The events layer applies them after the decisions' own
    rows are written: they reach other enrollments and fire triggers.
    """

    changes: list[tuple[Ref, ChangeContact]] = field(default_factory=list)
    enroll: list[tuple[Ref, str]] = field(default_factory=list)
    unenroll: list[tuple[Ref, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.enroll or self.unenroll)


class Applier:
    """Collects the writes of many decisions and makes them in a few statements."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        actor: str = "system",
        people: Directory | None = None,
    ) -> None:
        self.session, self.now, self.actor = session, now, actor
        self.people = people or Directory(session)
        self.updates: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.closes: list[task_rows.Close] = []  # made before any task still in `tasks`
        self.history: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.consequences = Consequences()
        self.decided: dict[int, EnrollmentState] = {}  # each enrollment's latest state

    def apply(self, ref: Ref, definition: Definition, decision: Decision) -> EnrollmentState:
        """Record one decision's state, history and effects."""
        state = decision.state
        for effect in decision.effects:
            if type(effect) is Send:
                self.messages.extend(effect.rows or ())
            elif type(effect) is ChangeContact:
                self._change(ref, effect)
            elif type(effect) is CreateTask:
                self._task(ref, definition, effect)
            elif type(effect) is CloseTasks:
                if self.tasks:
                    self._write_tasks()  # what it closes may have been made in this batch
                close = task_rows.Close(ref.id, effect.status, effect.step, effect.errors_only)
                self.closes.append(close)
            elif type(effect) is MoveTasks:
                self._write_tasks()
                self._close_tasks()
                task_rows.move(self.session, ref.id, effect.from_step, effect.to_step)
            elif type(effect) is Forget:
                self._forget(ref)
        subject = history.Subject(ref.contact_id, ref.sequence_id, ref.id)
        for entry in decision.history:
            if entry.type == "scheduled" and not entry.reason:
                continue  # an on-time schedule is implied by step_executed; only moves are kept
            self.history.append(history.row(subject, entry, self.actor))
        self.updates.append({"_id": ref.id, **columns_of(state, self.now)})
        self.decided[ref.id] = state
        return state

    def _task(self, ref: Ref, definition: Definition, effect: CreateTask) -> None:
        assert effect.contact is not None, "the machine gives every task its contact"
        row = task_rows.task_row(
            self.people,
            effect,
            definition,
            effect.contact,
            enrollment_id=ref.id,
            sequence_id=ref.sequence_id,
            contact_id=ref.contact_id,
            initiator_id=ref.initiator_id,
            now=self.now,
        )
        self.tasks.append(row)

    def _write_tasks(self) -> None:
        self._close_tasks()  # the closes decided before these tasks were made come first
        self.people.take_turns()  # the round robins' assignees of these tasks
        if self.tasks:
            bulk.insert_rows(self.session, Task.__table__, self.tasks)  # type: ignore[arg-type]
            self.tasks = []

    def _close_tasks(self) -> None:
        if self.closes:
            task_rows.close_many(self.session, self.closes, self.now)
            self.closes = []

    def _change(self, ref: Ref, effect: ChangeContact) -> None:
        if effect.action == "enroll":
            self.consequences.enroll.append((ref, str(effect.params["sequence"])))
        elif effect.action == "unenroll":
            self.consequences.unenroll.append((ref, str(effect.params["sequence"])))
        else:
            self.consequences.changes.append((ref, effect))

    def _forget(self, ref: Ref) -> None:
        """The enrollment's history, tasks and unsent messages, gone (what was sent stays)."""
        self.history = [row for row in self.history if row["enrollment_id"] != ref.id]
        self.messages = [row for row in self.messages if row["enrollment_id"] != ref.id]
        self.tasks = [row for row in self.tasks if row["enrollment_id"] != ref.id]
        self.closes = [c for c in self.closes if c.enrollment_id != ref.id]
        self.session.execute(delete(Event).where(Event.enrollment_id == ref.id))
        counting.take_back(self.session, [ref.id])
        self.session.execute(delete(Task).where(Task.enrollment_id == ref.id))
        self.session.execute(
            delete(Message).where(Message.enrollment_id == ref.id, Message.status.in_(UNSENT))
        )

    @property
    def writes_only(self) -> bool:
        """True when flushing only writes rows: nothing reaches other sequences afterwards."""
        return not self.consequences

    def flush_holding_history(self) -> tuple[Consequences, Callable[[], None]]:
        """`flush`, less the history and outbox rows, and what writes those later.

        The history rows get their ids now, in order, so they still come before any row
        written after them, as `flush` would have written them; writing them (one insert
        whose answer nobody reads) can then wait for the end of the transaction.
        """
        held, messages = self.history, self.messages
        self.history, self.messages = [], []
        consequences = self.flush()
        for row, drawn in zip(held, copies.draw_ids(self.session, EVENTS, len(held)), strict=True):
            row["id"] = drawn
        session = self.session

        def write() -> None:
            history.write(session, held)
            outbox.write(session, messages)

        return consequences, write

    def flush(self) -> Consequences:
        """Write what was collected; what it asks of other enrollments is handed back."""
        if len({row["_id"] for row in self.updates}) < len(self.updates):
            # Decisions made one after another for one enrollment (events of one batch): its
            # last state is the one to write. PostgreSQL's one-statement update would take
            # any one of them.
            self.updates = list({row["_id"]: row for row in self.updates}.values())
        bulk.update_enrollments(self.session, self.updates)
        self._write_tasks()
        self.people.flush()  # the round robins the tasks and owners took turns in
        history.write(self.session, self.history)
        outbox.write(self.session, self.messages)
        self.updates, self.history, self.messages, self.decided = [], [], [], {}
        consequences, self.consequences = self.consequences, Consequences()
        return consequences
