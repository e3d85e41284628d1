"""People's operations (DESIGN.md section 5): a sequence's lifecycle, holds on enrollments,
moving on, removing, and migrating running enrollments to another version.

A paused enrollment remembers the status it had (`paused_from`) and who paused it
(`paused_by`): resuming a sequence releases only what the sequence itself held.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.decisions import LIVE, HistoryEntry
from cadenza.core.definition import Definition
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import history, tasks, views
from cadenza.services.effects import Applier, state_of
from cadenza.services.enrollments import LIVE_OR_PAUSED, count_live, latest_version
from cadenza.services.operations import locked_enrollment, ref_of, situation_of
from cadenza.services.sequences import canonical, digest
from cadenza.services.versions import MigrateReport, migrate
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Event, Message, Sequence, SequenceVersion, Task

ENDED_REASON = "sequence ended"
UNSENT = ("queued", "held")  # messages a removal takes back; sent ones are facts


# --- sequences ---------------------------------------------------------------------------------


def activate(*, session: Session, name: str, now: datetime, actor: str = "system") -> int:
    """Start a draft, or resume a paused sequence; how many enrollments were released."""
    seq = _sequence(session, name)
    if seq.status == "paused":
        return _resume(session, seq, now, actor)
    _require(seq, ("draft", "paused"), "activated")
    _set_status(session, seq, "active", "activated", now, actor)
    return 0


def pause(*, session: Session, name: str, now: datetime, actor: str = "system") -> int:
    """Hold every live enrollment of an active sequence; how many were held."""
    seq = _sequence(session, name)
    _require(seq, ("active",), "paused")
    held = session.execute(
        update(Enrollment)
        .where(Enrollment.sequence_id == seq.id, Enrollment.status.in_(LIVE))
        .values(
            status="paused", paused_from=Enrollment.status, paused_by="sequence", updated_at=now
        )
        .returning(Enrollment.id, Enrollment.contact_id, Enrollment.step)
        .execution_options(synchronize_session=False)
    ).all()
    _log_each(session, seq, held, "paused", now, actor, f"sequence paused by {actor}")
    _set_status(session, seq, "paused", "paused", now, actor, enrollments=len(held))
    return len(held)


def resume(*, session: Session, name: str, now: datetime, actor: str = "system") -> int:
    """Release what the sequence held; enrollments a person paused stay paused."""
    seq = _sequence(session, name)
    _require(seq, ("paused",), "resumed")
    return _resume(session, seq, now, actor)


def _resume(session: Session, seq: Sequence, now: datetime, actor: str) -> int:
    # A due_at that passed meanwhile is simply due now; the worker checks allowed time.
    released = session.execute(
        update(Enrollment)
        .where(
            Enrollment.sequence_id == seq.id,
            Enrollment.status == "paused",
            Enrollment.paused_by == "sequence",
        )
        .values(
            status=func.coalesce(Enrollment.paused_from, "active"),
            paused_from=None,
            paused_by=None,
            updated_at=now,
        )
        .returning(Enrollment.id, Enrollment.contact_id, Enrollment.step)
        .execution_options(synchronize_session=False)
    ).all()
    _log_each(session, seq, released, "resumed", now, actor, f"sequence resumed by {actor}")
    _set_status(session, seq, "active", "resumed", now, actor, enrollments=len(released))
    return len(released)


def end(*, session: Session, name: str, now: datetime, actor: str = "system") -> int:
    """End a sequence for good: every running enrollment exits, open tasks are canceled."""
    seq = _sequence(session, name)
    _require(seq, ("draft", "active", "paused"), "ended")
    exited = session.execute(
        update(Enrollment)
        .where(Enrollment.sequence_id == seq.id, Enrollment.status.in_(LIVE_OR_PAUSED))
        .values(
            status="exited",
            due_at=None,
            exit_reason=ENDED_REASON,
            paused_from=None,
            paused_by=None,
            updated_at=now,
        )
        .returning(Enrollment.id, Enrollment.contact_id, Enrollment.step)
        .execution_options(synchronize_session=False)
    ).all()
    session.execute(
        update(Task)
        .where(Task.sequence_id == seq.id, Task.status.in_(tasks.OPEN))
        .values(status="canceled", completed_at=now)
    )
    _log_each(session, seq, exited, "exited", now, actor, ENDED_REASON)
    _set_status(session, seq, "ended", "ended", now, actor, enrollments=len(exited))
    return len(exited)


def archive(*, session: Session, name: str, now: datetime, actor: str = "system") -> None:
    """Put away a sequence nobody is running through (an ended one always qualifies).

    Any status may be archived once no enrollment is active, waiting or paused: archiving
    must never strand a contact mid-sequence, so a running sequence is ended first.
    """
    seq = _sequence(session, name)
    if seq.status == "archived":
        raise Conflict(f"sequence {name!r} is already archived")
    running = count_live(session, seq.id)
    if running:
        raise Conflict(
            f"sequence {name!r} has {running} running enrollments: end it before archiving"
        )
    _set_status(session, seq, "archived", "archived", now, actor)


def clone(
    *, session: Session, name: str, new_name: str, now: datetime, actor: str = "system"
) -> Sequence:
    """A new draft sequence with the latest version's definition under a new name."""
    source = _sequence(session, name, lock=False)
    if session.scalar(select(Sequence.id).where(Sequence.name == new_name)) is not None:
        raise Conflict(f"a sequence named {new_name!r} already exists")
    version = latest_version(session, source)
    try:
        definition = Definition.model_validate({**version.definition, "name": new_name})
    except ValidationError as exc:
        raise ValidationFailed(f"{new_name!r} is not a valid sequence name: {exc}") from None
    stored = canonical(definition)
    copy = Sequence(
        name=new_name,
        status="draft",
        owner_id=source.owner_id,
        sharing=source.sharing,
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    session.flush()
    session.add(
        SequenceVersion(
            sequence_id=copy.id,
            number=1,
            definition=stored,
            digest=digest(stored),
            source=json.dumps(stored, indent=2, ensure_ascii=False),
            created_at=now,
        )
    )
    reason = f"cloned from {name} version {version.number} by {actor}"
    _note(session, copy, "sequence_cloned", now, actor, reason, source=name)
    session.flush()
    return copy


def delete(*, session: Session, name: str, now: datetime, actor: str = "system") -> None:
    """Delete a sequence nobody was ever enrolled in, with its versions and history."""
    seq = _sequence(session, name)
    enrolled = session.execute(
        select(func.count()).select_from(Enrollment).where(Enrollment.sequence_id == seq.id)
    ).scalar_one()
    if enrolled:
        raise Conflict(
            f"sequence {name!r} has {enrolled} enrollments (of any status): "
            "it cannot be deleted; end and archive it instead"
        )
    version_ids = list(
        session.scalars(select(SequenceVersion.id).where(SequenceVersion.sequence_id == seq.id))
    )
    # SQLite may hand a deleted id to the next row: nothing may still point at this one.
    session.execute(delete_rows(Event).where(Event.sequence_id == seq.id))
    session.execute(delete_rows(SequenceVersion).where(SequenceVersion.sequence_id == seq.id))
    session.delete(seq)
    session.flush()
    views.forget_versions(session, version_ids)
    history.record(
        session,
        history.Subject(None),
        "sequence_deleted",
        now,
        reason=f"deleted by {actor}",
        actor=actor,
        sequence=name,
    )


def _sequence(session: Session, name: str, *, lock: bool = True) -> Sequence:
    query = select(Sequence).where(Sequence.name == name)
    found = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no sequence named {name!r}")
    return found


def _require(seq: Sequence, allowed: tuple[str, ...], verb: str) -> None:
    if seq.status not in allowed:
        raise Conflict(
            f"sequence {seq.name!r} is {seq.status}: only a {' or '.join(allowed)} "
            f"sequence can be {verb}"
        )


def _set_status(
    session: Session,
    seq: Sequence,
    status: str,
    verb: str,
    now: datetime,
    actor: str,
    **data: Any,
) -> None:
    seq.status, seq.updated_at = status, now
    _note(session, seq, f"sequence_{verb}", now, actor, f"{verb} by {actor}", **data)


def _note(
    session: Session,
    seq: Sequence,
    type_: str,
    now: datetime,
    actor: str,
    reason: str,
    **data: Any,
) -> None:
    history.record(
        session, history.Subject(None, seq.id), type_, now, reason=reason, actor=actor, **data
    )


def _log_each(
    session: Session,
    seq: Sequence,
    rows: Any,
    type_: str,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """One history row per enrollment a sequence-wide change touched, in one statement."""
    history.write(
        session,
        [
            history.row(
                history.Subject(contact_id, seq.id, enrollment_id),
                HistoryEntry(type_, now, step, reason),
                actor,
            )
            for enrollment_id, contact_id, step in rows
        ],
    )


# --- enrollments -------------------------------------------------------------------------------


def pause_enrollment(
    *, session: Session, enrollment_id: int, now: datetime, actor: str = "system"
) -> Enrollment:
    """Hold one enrollment until a person resumes it (a sequence resume leaves it paused)."""
    enrollment = locked_enrollment(session, enrollment_id)
    if enrollment.status == "paused" and enrollment.paused_by == "person":
        raise Conflict(f"enrollment {enrollment_id} is already paused")
    _hold(enrollment, now)
    _log(session, enrollment, "paused", now, actor, f"paused by {actor}")
    return enrollment


def resume_enrollment(
    *, session: Session, enrollment_id: int, now: datetime, actor: str = "system"
) -> Enrollment:
    """Let a person-paused enrollment move again (under a paused sequence: when it resumes)."""
    enrollment = locked_enrollment(session, enrollment_id)
    if enrollment.status != "paused":
        raise Conflict(f"enrollment {enrollment_id} is {enrollment.status}, not paused")
    seq = session.get(Sequence, enrollment.sequence_id)
    assert seq is not None
    if seq.status == "paused" and enrollment.paused_by == "sequence":
        raise Conflict(
            f"enrollment {enrollment_id} is held by the paused sequence {seq.name!r}: "
            "resume the sequence"
        )
    reason = f"resumed by {actor}" + _rerun_if_task_gone(session, enrollment, now)
    if seq.status == "paused":
        # The person lets go, the sequence's hold remains: it moves when the sequence does.
        enrollment.paused_by = "sequence"
        reason += f"; moves when sequence {seq.name!r} resumes"
    else:
        enrollment.status = enrollment.paused_from or "active"
        enrollment.paused_from = enrollment.paused_by = None
    enrollment.updated_at = now
    _log(session, enrollment, "resumed", now, actor, reason)
    return enrollment


def stop(
    *, session: Session, enrollment_id: int, now: datetime, actor: str = "system"
) -> Enrollment:
    """Pause an enrollment and cancel its open tasks (they leave people's to-do lists)."""
    enrollment = locked_enrollment(session, enrollment_id)
    _hold(enrollment, now)
    tasks.cancel_open(session, enrollment.id, now)
    _log(session, enrollment, "stopped", now, actor, f"stopped by {actor}; open tasks canceled")
    return enrollment


def remove(
    *, session: Session, enrollment_id: int, now: datetime, actor: str = "system"
) -> Enrollment:
    """Take a contact out as if never enrolled: its history, tasks and unsent messages go.

    The row stays as a tombstone with status `removed`, so `reentry: never` still refuses
    to enroll the contact again.
    """
    enrollment = locked_enrollment(session, enrollment_id)
    if enrollment.status == "removed":
        raise Conflict(f"enrollment {enrollment_id} is already removed")
    session.execute(delete_rows(Event).where(Event.enrollment_id == enrollment.id))
    session.execute(delete_rows(Task).where(Task.enrollment_id == enrollment.id))
    session.execute(
        delete_rows(Message).where(
            Message.enrollment_id == enrollment.id, Message.status.in_(UNSENT)
        )
    )
    enrollment.status, enrollment.due_at = "removed", None
    enrollment.paused_from = enrollment.paused_by = None
    enrollment.exit_reason, enrollment.updated_at = f"removed by {actor}", now
    _log(session, enrollment, "removed", now, actor, f"removed by {actor}")
    return enrollment


def skip_to_next(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> Enrollment:
    """Move on now: the current step is skipped and the next one is due at once."""
    enrollment = locked_enrollment(session, enrollment_id)
    if enrollment.status not in LIVE:
        hint = ": resume it first" if enrollment.status == "paused" else ""
        raise Conflict(f"enrollment {enrollment_id} is {enrollment.status}{hint}")
    state = state_of(enrollment)
    if state.waiting and state.waiting.get("kind") == "task":
        _cancel_step_tasks(session, enrollment.id, str(state.step), now)
    sit = situation_of(session, enrollment, now, settings)
    decision = machine.skip(sit, state, f"moved on by {actor}")
    applier = Applier(session, now, settings, actor)
    applier.apply(ref_of(session, enrollment), sit.definition, sit.contact, decision)
    applier.flush()
    session.refresh(enrollment)
    return enrollment


def _hold(enrollment: Enrollment, now: datetime) -> None:
    """Pause on a person's behalf (taking over a sequence's hold, which keeps paused_from)."""
    if enrollment.status in LIVE:
        enrollment.paused_from, enrollment.status = enrollment.status, "paused"
    elif enrollment.status != "paused":
        raise Conflict(f"enrollment {enrollment.id} is {enrollment.status}")
    enrollment.paused_by, enrollment.updated_at = "person", now


def _rerun_if_task_gone(session: Session, enrollment: Enrollment, now: datetime) -> str:
    """A stopped enrollment lost the task it waited on: its step runs again, due now."""
    waiting = (enrollment.state or {}).get("waiting") or {}
    if enrollment.paused_from != "waiting" or waiting.get("kind") != "task":
        return ""
    still_open = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.enrollment_id == enrollment.id,
            Task.step == waiting["step"],
            Task.status.in_(tasks.OPEN),
        )
    )
    if still_open:
        return ""
    enrollment.state = {k: v for k, v in enrollment.state.items() if k != "waiting"}
    enrollment.due_at, enrollment.paused_from = now, "active"
    return f"; step {enrollment.step} runs again (its task was resolved while stopped)"


def _cancel_step_tasks(session: Session, enrollment_id: int, step: str, now: datetime) -> None:
    session.execute(
        update(Task)
        .where(Task.enrollment_id == enrollment_id, Task.step == step, Task.status.in_(tasks.OPEN))
        .values(status="canceled", completed_at=now)
    )


def _log(
    session: Session, enrollment: Enrollment, type_: str, now: datetime, actor: str, reason: str
) -> None:
    subject = history.Subject(enrollment.contact_id, enrollment.sequence_id, enrollment.id)
    history.record(session, subject, type_, now, step=enrollment.step, reason=reason, actor=actor)


__all__ = [
    "MigrateReport",
    "activate",
    "archive",
    "clone",
    "delete",
    "end",
    "migrate",
    "pause",
    "pause_enrollment",
    "remove",
    "resume",
    "resume_enrollment",
    "skip_to_next",
    "stop",
]
