"""Versions (DESIGN.md section 5): running enrollments stay on the version they started on
until `migrate` moves them, step by mapped step, all of them or none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.core.decisions import HistoryEntry
from cadenza.core.definition import Definition
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services import history, tasks, views
from cadenza.services.effects import columns_of, state_of
from cadenza.services.enrollments import LIVE_OR_PAUSED, sequence_by_name
from cadenza.store.models import Enrollment, SequenceVersion, Task


@dataclass
class MigrateReport:
    """What `migrate` moved: per former version, and which waits had to restart."""

    sequence: str
    to_version: int
    moved: Counter[int] = field(default_factory=Counter)  # former version number -> count
    restarted: list[int] = field(default_factory=list)  # active at the mapped step, due now


def migrate(
    *,
    session: Session,
    sequence: str,
    to_version: int,
    step_map: dict[str, str],
    now: datetime,
    actor: str = "system",
) -> MigrateReport:
    """Move the running enrollments of other versions to version `to_version`, all or none."""
    seq = sequence_by_name(session, sequence)
    query = select(SequenceVersion.id, SequenceVersion.number).where(
        SequenceVersion.sequence_id == seq.id
    )
    numbers: dict[int, int] = {row[0]: row[1] for row in session.execute(query)}
    target_id = next((i for i, n in numbers.items() if n == to_version), None)
    if target_id is None:
        raise NotFound(f"sequence {sequence!r} has no version {to_version}")
    target = views.definition_for(session=session, version_id=target_id)
    rows = (
        session.execute(
            select(Enrollment)
            .where(
                Enrollment.sequence_id == seq.id,
                Enrollment.status.in_(LIVE_OR_PAUSED),
                Enrollment.version_id != target_id,
            )
            .order_by(Enrollment.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    _check_map(target, to_version, step_map, [str(r.step) for r in rows])
    report = MigrateReport(sequence, to_version)
    entries = []
    for enrollment in rows:
        before = views.definition_for(session=session, version_id=enrollment.version_id)
        old_step, old_version = str(enrollment.step), numbers[enrollment.version_id]
        restarted = _move(session, enrollment, before, target, step_map, now)
        enrollment.version_id = target_id
        report.moved[old_version] += 1
        if restarted:
            report.restarted.append(enrollment.id)
        moved = {"from_version": old_version, "from_step": old_step, "restarted": restarted}
        entries.append(_migrated(enrollment, to_version, moved, now, actor))
    history.write(session, entries)
    return report


def _migrated(
    enrollment: Enrollment, to_version: int, moved: dict[str, Any], now: datetime, actor: str
) -> dict[str, Any]:
    """The history row of one move, with where it came from and where it went."""
    reason = f"version {moved['from_version']} to {to_version} by {actor}"
    data = {**moved, "to_version": to_version, "to_step": enrollment.step}
    subject = history.Subject(enrollment.contact_id, enrollment.sequence_id, enrollment.id)
    return history.row(subject, HistoryEntry("migrated", now, enrollment.step, reason, data), actor)


def _check_map(
    target: Definition, number: int, step_map: dict[str, str], current: list[str]
) -> None:
    """Refuse up front, naming every step with nowhere to go and how many sit on it."""
    keys = {step.key for step in target.steps}
    unknown = sorted({new for new in step_map.values() if new not in keys})
    if unknown:
        raise ValidationFailed(f"version {number} has no step {', '.join(map(repr, unknown))}")
    missing = Counter(key for key in current if step_map.get(key, key) not in keys)
    if missing:
        listed = ", ".join(f"{key!r} ({count} enrollments)" for key, count in missing.items())
        raise ValidationFailed(
            f"version {number} has no step {listed}: map each with --map old=new; nothing moved"
        )


def _move(
    session: Session,
    enrollment: Enrollment,
    before: Definition,
    target: Definition,
    step_map: dict[str, str],
    now: datetime,
) -> bool:
    """Put one enrollment on its mapped step; True when its wait could not carry over."""
    state = state_of(enrollment)
    old, new = str(state.step), step_map.get(str(state.step), str(state.step))
    # Visits never go down for a key: idempotency keys (enrollment:step:visit) stay unique.
    for key, count in list(state.visits.items()):
        mapped = step_map.get(key, key)
        state.visits[mapped] = max(state.visits.get(mapped, 0), count)
    state.step = new
    restarted = False
    if state.waiting is not None:
        if before.step(old).action == target.step(new).action:
            state.waiting = {**state.waiting, "step": new}
            if state.waiting["kind"] == "wait_for":
                state.waiting["events"] = list(getattr(target.step(new), "events", []))
            _open_step_tasks(session, enrollment.id, old, step=new)
        else:
            state.waiting, state.due_at, restarted = None, now, True
            _open_step_tasks(session, enrollment.id, old, status="canceled", completed_at=now)
            if enrollment.status == "waiting":
                state.status = "active"
            else:
                enrollment.paused_from = "active"
    depth = int((enrollment.state or {}).get("depth", 0))
    for column, value in columns_of(state, now, depth).items():
        setattr(enrollment, column, value)
    return restarted


def _open_step_tasks(session: Session, enrollment_id: int, key: str, **values: Any) -> None:
    # A task completes the step named on it: an open one follows the mapped step, or is
    # canceled when the enrollment no longer waits on it.
    session.execute(
        update(Task)
        .where(Task.enrollment_id == enrollment_id, Task.step == key, Task.status.in_(tasks.OPEN))
        .values(**values)
    )
