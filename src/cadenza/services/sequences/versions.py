"""Versions (DESIGN.md section 5): running enrollments stay on the version they started on
until `migrate` moves them, step by mapped step, all of them or none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.decisions import LIVE_OR_PAUSED
from cadenza.core.definition import Definition
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.enrollments.applying import Applier, ref_of, state_of
from cadenza.services.enrollments.many import COLUMNS as ENROLLMENT_COLUMNS
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store import catalog
from cadenza.store.bulk import chunks
from cadenza.store.catalog import sequence_by_name
from cadenza.store.models import Enrollment, SequenceVersion


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
    viewer: Viewer = OPERATOR,
) -> MigrateReport:
    """Move the running enrollments of other versions to version `to_version`, all or none."""
    access.sequence_for(session=session, viewer=viewer, name=sequence, privilege="edit sequences")
    seq = sequence_by_name(session, sequence)
    query = select(SequenceVersion.id, SequenceVersion.number).where(
        SequenceVersion.sequence_id == seq.id
    )
    numbers: dict[int, int] = {row[0]: row[1] for row in session.execute(query)}
    target_id = next((i for i, n in numbers.items() if n == to_version), None)
    if target_id is None:
        raise NotFound(f"sequence {sequence!r} has no version {to_version}")
    target = catalog.definition_for(session=session, version_id=target_id)
    rows = session.execute(
        select(*ENROLLMENT_COLUMNS)
        .where(
            Enrollment.sequence_id == seq.id,
            Enrollment.status.in_(LIVE_OR_PAUSED),
            Enrollment.version_id != target_id,
        )
        .order_by(Enrollment.id)
        .with_for_update()
    ).all()
    _check_map(target, to_version, step_map, [str(r.step) for r in rows])
    report = MigrateReport(sequence, to_version)
    applier = Applier(session, now, actor)
    for row in rows:
        before = catalog.definition_for(session=session, version_id=row.version_id)
        old_version = numbers[row.version_id]
        state = state_of(row)
        reason = f"version {old_version} to {to_version} by {actor}"
        decision, restarted = machine.migrate(state, before, target, step_map, now, reason=reason)
        for entry in decision.history:
            entry.data.update(from_version=old_version, to_version=to_version)
        applier.apply(ref_of(row, seq.name, state), target, decision)
        report.moved[old_version] += 1
        if restarted:
            report.restarted.append(row.id)
    applier.flush()  # a migration runs no step: it sets off no contact change
    for batch in chunks(row.id for row in rows):
        session.execute(
            update(Enrollment).where(Enrollment.id.in_(batch)).values(version_id=target_id)
        )
    return report


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
