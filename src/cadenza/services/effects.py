"""Applying the transition function's decisions inside the caller's transaction.

The worker, incoming events, task completions and people's operations all end here, so a
decision means the same thing whoever asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.decisions import (
    ChangeContact,
    CreateTask,
    Decision,
    EnrollmentState,
    HistoryEntry,
    Send,
)
from cadenza.core.definition import Definition
from cadenza.core.events import EventRecord
from cadenza.services import contact_changes, history, outbox, tasks
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.claims import Claimed
from cadenza.store.models import Enrollment, Task

MAX_TRIGGER_DEPTH = 5  # a chain of sequences handing a contact on stops here


@dataclass(slots=True)  # made for every step the worker runs: no frozen-init overhead
class Ref:
    """An enrollment's identity and whereabouts."""

    id: int
    sequence_id: int
    sequence_name: str
    version_id: int
    contact_id: int
    initiator_id: int | None = None
    depth: int = 0


def state_of(row: Claimed | Enrollment) -> EnrollmentState:
    """The machine's view of an enrollment row (claimed by the worker, or an ORM object)."""
    extra = row.state or {}
    return EnrollmentState(
        row.status,  # type: ignore[arg-type]
        row.step,
        row.due_at,
        row.enrolled_at,
        row.last_step_at,
        dict(extra.get("visits", {})),
        extra.get("waiting"),
        row.outcome,
        row.exit_reason,
    )


def columns_of(state: EnrollmentState, now: datetime, depth: int = 0) -> dict[str, Any]:
    """The enrollment columns a state writes."""
    extra = state.to_state()
    if depth:
        extra["depth"] = depth
    return {
        "status": state.status,
        "step": state.step,
        "due_at": state.due_at,
        "last_step_at": state.last_step_at,
        "outcome": state.outcome,
        "exit_reason": state.exit_reason,
        "state": extra,
        "updated_at": now,
    }


class Applier:
    """Collects the writes of many decisions and makes them in a few statements."""

    def __init__(
        self, session: Session, now: datetime, settings: Settings, actor: str = "system"
    ) -> None:
        self.session, self.now, self.settings, self.actor = session, now, settings, actor
        self.updates: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.changed: list[tuple[Ref, list[EventRecord]]] = []
        self.enroll_requests: list[tuple[Ref, str]] = []
        self.unenroll_requests: list[tuple[Ref, str]] = []

    def apply(
        self, ref: Ref, definition: Definition, contact: ContactView, decision: Decision
    ) -> EnrollmentState:
        """Record one decision's state, history and effects."""
        state = decision.state
        for effect in decision.effects:
            if isinstance(effect, Send):
                self._send(ref, definition, contact, decision, effect)
            elif isinstance(effect, CreateTask):
                self._task(ref, definition, contact, effect)
            elif isinstance(effect, ChangeContact):
                self._change(ref, effect)
        if state.status == "exited":
            tasks.cancel_open(self.session, ref.id, self.now)
        subject = history.Subject(ref.contact_id, ref.sequence_id, ref.id)
        for entry in decision.history:
            if entry.type == "scheduled" and not entry.reason:
                continue  # an on-time schedule is implied by step_executed; only moves are kept
            self.history.append(history.row(subject, entry, self.actor))
        self.updates.append({"_id": ref.id, **columns_of(state, self.now, ref.depth)})
        return state

    def _send(
        self,
        ref: Ref,
        definition: Definition,
        contact: ContactView,
        decision: Decision,
        effect: Send,
    ) -> None:
        who = outbox.Addressing(
            ref.id, ref.sequence_id, ref.sequence_name, ref.contact_id, contact, definition
        )
        step = definition.step(effect.step)
        try:
            self.messages.extend(
                outbox.message_rows(self.session, who, step, effect.visit, self.now, self.settings)
            )
        except outbox.RenderError as exc:
            self._block_on_error(ref, definition, contact, decision, effect, str(exc))

    def _block_on_error(
        self,
        ref: Ref,
        definition: Definition,
        contact: ContactView,
        decision: Decision,
        effect: Send,
        reason: str,
    ) -> None:
        """A message that cannot be written holds the enrollment on an error task."""
        state = decision.state
        state.status, state.step, state.due_at = "waiting", effect.step, None
        state.outcome = None
        state.waiting = {"kind": "task", "step": effect.step}
        self._task(
            ref,
            definition,
            contact,
            CreateTask(effect.step, effect.action, effect.visit, "error", error=reason),
        )
        decision.history.append(HistoryEntry("step_error", self.now, effect.step, reason))

    def _task(
        self, ref: Ref, definition: Definition, contact: ContactView, effect: CreateTask
    ) -> None:
        row = tasks.task_row(
            self.session,
            effect,
            definition,
            contact,
            enrollment_id=ref.id,
            sequence_id=ref.sequence_id,
            contact_id=ref.contact_id,
            initiator_id=ref.initiator_id,
            now=self.now,
        )
        self.session.execute(insert(Task), [row])

    def _change(self, ref: Ref, effect: ChangeContact) -> None:
        if effect.action == "enroll":
            self.enroll_requests.append((ref, str(effect.params["sequence"])))
            return
        if effect.action == "unenroll":
            self.unenroll_requests.append((ref, str(effect.params["sequence"])))
            return
        events = contact_changes.apply_step_change(
            self.session, ref.contact_id, effect.action, effect.params, self.now
        )
        if events:
            self.changed.append((ref, events))

    @property
    def writes_only(self) -> bool:
        """True when flushing only writes rows: nothing reaches other sequences afterwards."""
        return not (self.changed or self.enroll_requests or self.unenroll_requests)

    def flush(self) -> None:
        """Write what was collected, then let the changes it made reach other sequences."""
        bulk.update_enrollments(self.session, self.updates)
        history.write(self.session, self.history)
        outbox.write(self.session, self.messages)
        self.updates, self.history, self.messages = [], [], []
        self._propagate()

    def _propagate(self) -> None:
        from cadenza.services import enrollments, events

        changed, self.changed = self.changed, []
        for ref, records in changed:
            actor = f"sequence:{ref.sequence_name}"
            for record in records:
                events.record_contact_event(
                    self.session,
                    ref.contact_id,
                    record,
                    self.settings,
                    actor=actor,
                    exclude_enrollment=ref.id,
                    depth=ref.depth + 1,
                )
        enroll_requests, self.enroll_requests = self.enroll_requests, []
        for ref, name in enroll_requests:
            enrollments.enroll(
                session=self.session,
                sequence=name,
                contact_ids=[ref.contact_id],
                now=self.now,
                settings=self.settings,
                depth=ref.depth + 1,
                actor=f"sequence:{ref.sequence_name}",
            )
        unenroll_requests, self.unenroll_requests = self.unenroll_requests, []
        for ref, name in unenroll_requests:
            enrollments.exit_contact(
                session=self.session,
                sequence=name,
                contact_id=ref.contact_id,
                now=self.now,
                settings=self.settings,
                reason=f"unenrolled by {ref.sequence_name}",
            )
