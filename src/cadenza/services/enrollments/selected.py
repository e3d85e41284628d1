"""People's operations on many enrollments of one sequence at once, from its queue: pause,
resume, move on, stop (with what becomes of the open tasks) and remove.

The rows are chosen by the queue's own filter (all matching) or by id (the rows ticked),
decided one by one by the machine's transition for a single enrollment, and written in a
few statements per batch (`many.transition_all`); a removal's deletions go set-wise too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.decisions import Decision, EnrollmentState, Forget
from cadenza.errors import ValidationFailed
from cadenza.services.enrollments import many
from cadenza.services.enrollments.applying import UNSENT
from cadenza.services.enrollments.queue import QueueFilter
from cadenza.services.enrollments.task_rows import OPEN
from cadenza.services.lists.binding import take_off_list
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.models import Enrollment, Event, Message, Sequence, Task

VERBS = ("pause", "resume", "move_on", "stop", "remove")
DISPOSITIONS = {"cancel": "canceled", "skip": "skipped", "complete": "done"}
MAX_IDS = 1000  # ticked rows come from pages of at most 200: more is not a person's choice


@dataclass(frozen=True)
class Selection:
    """The enrollments an operation reaches: the filter's matches, or only these ids of them."""

    filters: QueueFilter
    ids: tuple[int, ...] | None = None  # None: every enrollment the filter matches


@dataclass(frozen=True)
class BulkResult:
    verb: str
    changed: int
    selected: int

    @property
    def unchanged(self) -> int:
        return self.selected - self.changed


def operate_selected(
    *,
    session: Session,
    sequence: str,
    verb: str,
    selection: Selection,
    now: datetime,
    disposition: str = "cancel",
    viewer: Viewer = OPERATOR,
) -> BulkResult:
    """Apply one operation to the selected enrollments; those whose state refuses it stay."""
    if verb not in VERBS:
        raise ValidationFailed(f"{verb!r} is not one of {', '.join(VERBS)}")
    if disposition not in DISPOSITIONS:
        raise ValidationFailed(f"open tasks can be {', '.join(DISPOSITIONS)}, not {disposition!r}")
    if selection.ids is not None and not selection.ids:
        raise ValidationFailed("no enrollment selected: tick some rows or choose all matching")
    if selection.ids is not None and len(selection.ids) > MAX_IDS:
        raise ValidationFailed(f"at most {MAX_IDS} rows at once; choose all matching instead")
    # Removing takes back history: the sequence's editors only (as for one enrollment).
    privilege = "edit sequences" if verb == "remove" else "enroll"
    seq = access.sequence_for(session=session, viewer=viewer, name=sequence, privilege=privilege)
    where = selection.filters.conditions(seq.id)
    if selection.ids is not None:
        where.append(Enrollment.id.in_(selection.ids))
    selected = _selected(session, where)
    actor = viewer.actor
    if verb == "resume":
        changed = _resume(session, seq, where, now, actor)
    else:
        if verb == "remove":
            _forget(session, selected)
        moved = many.transition_all(
            session, seq, _transition(verb, actor, disposition), where=where, now=now, actor=actor
        )
        if verb == "remove":  # off the sequence, off the list it serves
            definition = definition_for(session=session, version_id=latest_version(session, seq).id)
            take_off_list(
                session=session, definition=definition, contact_ids=[c.contact_id for c in moved]
            )
        changed = len(moved)
    return BulkResult(verb, changed, len(selected))


def _selected(session: Session, where: list[ColumnElement[bool]]) -> list[tuple[int, int]]:
    """(enrollment id, contact id) of what is selected, locked until the change commits."""
    query = select(Enrollment.id, Enrollment.contact_id).where(*where).with_for_update()
    return [(row[0], row[1]) for row in session.execute(query)]


Transition = Callable[[machine.Situation, EnrollmentState], Decision]


def _transition(verb: str, actor: str, disposition: str) -> Transition:
    if verb == "pause":
        reason = f"paused by {actor}"
        return lambda sit, state: machine.pause(sit, state, by="person", reason=reason)
    if verb == "move_on":
        reason = f"moved on by {actor}"
        return lambda sit, state: machine.skip(sit, state, reason=reason)
    if verb == "stop":
        closing = DISPOSITIONS[disposition]
        reason = f"stopped by {actor}; open tasks {closing}"
        return lambda sit, state: machine.stop(sit, state, reason=reason, tasks=closing)  # type: ignore[arg-type]
    reason = f"removed by {actor}"

    def remove(sit: machine.Situation, state: EnrollmentState) -> Decision:
        decision = machine.remove(sit, state, reason=reason)
        # What Forget deletes one enrollment at a time went set-wise before (`_forget`).
        decision.effects = [e for e in decision.effects if not isinstance(e, Forget)]
        return decision

    return remove


def _resume(
    session: Session,
    seq: Sequence,
    where: list[ColumnElement[bool]],
    now: datetime,
    actor: str,
) -> int:
    """Resume in two passes: those whose task is still open wait on it, the others (stopped:
    their task was resolved) run their step again."""
    open_task = select(Task.enrollment_id).where(
        Task.enrollment_id == Enrollment.id, Task.step == Enrollment.step, Task.status.in_(OPEN)
    )
    reason = f"resumed by {actor}"
    changed = 0
    for has_task, extra in ((True, open_task.exists()), (False, ~open_task.exists())):

        def resume(
            sit: machine.Situation, state: EnrollmentState, task_open: bool = has_task
        ) -> Decision:
            return machine.resume(sit, state, by="person", reason=reason, task_open=task_open)

        moved = many.transition_all(
            session, seq, resume, where=[*where, extra], now=now, actor=actor
        )
        changed += len(moved)
    return changed


def _forget(session: Session, selected: list[tuple[int, int]]) -> None:
    """The history, tasks and unsent messages of enrollments being removed: a few statements
    per thousand (events are found through their contacts' index)."""
    for start in range(0, len(selected), 1000):
        batch = selected[start : start + 1000]
        ids = [pair[0] for pair in batch]
        contacts = sorted({pair[1] for pair in batch})
        session.execute(
            delete(Event).where(Event.contact_id.in_(contacts), Event.enrollment_id.in_(ids))
        )
        session.execute(delete(Task).where(Task.enrollment_id.in_(ids)))
        session.execute(
            delete(Message).where(Message.enrollment_id.in_(ids), Message.status.in_(UNSENT))
        )
