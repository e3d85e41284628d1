"""A sequence's lifecycle (DESIGN.md section 5): activate, pause, resume, end, archive, clone,
delete. Pausing, resuming and ending reach every enrollment of the sequence through the
machine's own hold, release and exit: resuming a sequence releases only what it held.
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
from cadenza.core.decisions import LIVE, LIVE_OR_PAUSED
from cadenza.core.definition import Definition
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import history, lists
from cadenza.services.enrollments import many
from cadenza.services.enrollments.enrolling import count_live
from cadenza.services.enrollments.task_rows import OPEN
from cadenza.services.sequences.applying import canonical, digest
from cadenza.services.sequences.plan import check_active_limit
from cadenza.services.sequences.versions import MigrateReport, migrate
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings, get_settings
from cadenza.store import catalog
from cadenza.store.catalog import latest_version
from cadenza.store.models import Enrollment, Event, Sequence, SequenceVersion, Task

ENDED_REASON = "sequence ended"


# --- sequences ---------------------------------------------------------------------------------


def activate(
    *,
    session: Session,
    name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> int:
    """Start a draft, or resume a paused sequence; how many enrollments were released."""
    seq = _sequence(session, name, viewer=viewer)
    if seq.status == "paused":
        return _resume(session, seq, now, actor, settings)
    _require(seq, ("draft", "paused"), "activated")
    check_active_limit(session, seq.owner_id, settings, becoming=seq.name)
    definition = _list_bound(session, seq)
    _set_status(session, seq, "active", "activated", now, actor)
    _enroll_list(session, seq, definition, now, actor, settings)
    return 0


def pause(
    *,
    session: Session,
    name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> int:
    """Hold every live enrollment of an active sequence; how many were held."""
    seq = _sequence(session, name, viewer=viewer)
    _require(seq, ("active",), "paused")
    reason = f"sequence paused by {actor}"
    held = many.transition_all(
        session,
        seq,
        lambda sit, state: machine.pause(sit, state, by="sequence", reason=reason),
        where=[Enrollment.status.in_(LIVE)],
        now=now,
        actor=actor,
        sequence_status="paused",
    )
    _set_status(session, seq, "paused", "paused", now, actor, enrollments=len(held))
    return len(held)


def resume(
    *,
    session: Session,
    name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> int:
    """Release what the sequence held; enrollments a person paused stay paused."""
    seq = _sequence(session, name, viewer=viewer)
    _require(seq, ("paused",), "resumed")
    return _resume(session, seq, now, actor, settings)


def _resume(
    session: Session, seq: Sequence, now: datetime, actor: str, settings: Settings | None
) -> int:
    check_active_limit(session, seq.owner_id, settings, becoming=seq.name)
    definition = _list_bound(session, seq)
    reason = f"sequence resumed by {actor}"
    released = many.transition_all(
        session,
        seq,
        lambda sit, state: machine.resume(sit, state, by="sequence", reason=reason),
        where=[Enrollment.status == "paused", Enrollment.paused_by == "sequence"],
        now=now,
        actor=actor,
        sequence_status="active",
    )
    _set_status(session, seq, "active", "resumed", now, actor, enrollments=len(released))
    _enroll_list(session, seq, definition, now, actor, settings)
    return len(released)


def _list_bound(session: Session, seq: Sequence) -> Definition:
    """The sequence's definition, once no other active sequence is served by its list."""
    definition = catalog.definition_for(session=session, version_id=latest_version(session, seq).id)
    lists.check_binding(session=session, sequence=seq, definition=definition)
    return definition


def _enroll_list(
    session: Session,
    seq: Sequence,
    definition: Definition,
    now: datetime,
    actor: str,
    settings: Settings | None,
) -> None:
    """A sequence that becomes active on a list enrolls the members it never enrolled."""
    if definition.enrollment.list_ is not None:
        lists.enroll_members(
            session=session, sequence=seq, list_name=definition.enrollment.list_, now=now,
            settings=settings or get_settings(), actor=actor,
        )  # fmt: skip


def end(
    *,
    session: Session,
    name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> int:
    """End a sequence for good: every running enrollment exits, open tasks are canceled."""
    seq = _sequence(session, name, viewer=viewer)
    _require(seq, ("draft", "active", "paused"), "ended")
    exited = many.transition_all(
        session,
        seq,
        lambda sit, state: machine.exit(sit, state, reason=ENDED_REASON),
        where=[Enrollment.status.in_(LIVE_OR_PAUSED)],
        now=now,
        actor=actor,
        sequence_status="ended",
    )
    # Reminders of enrollments that moved on are the sequence's too: they go as well.
    session.execute(
        update(Task)
        .where(Task.sequence_id == seq.id, Task.status.in_(OPEN))
        .values(status="canceled", completed_at=now)
    )
    _set_status(session, seq, "ended", "ended", now, actor, enrollments=len(exited))
    return len(exited)


def archive(
    *,
    session: Session,
    name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
    settings: Settings | None = None,
) -> None:
    """Put away a sequence nobody is running through (an ended one always qualifies).

    Any status may be archived once no enrollment is active, waiting or paused: archiving
    must never strand a contact mid-sequence, so a running sequence is ended first.
    """
    seq = _sequence(session, name, viewer=viewer)
    if seq.status == "archived":
        raise Conflict(f"sequence {name!r} is already archived")
    running = count_live(session, seq.id)
    if running:
        raise Conflict(
            f"sequence {name!r} has {running} running enrollments: end it before archiving"
        )
    _set_status(session, seq, "archived", "archived", now, actor)


def clone(
    *,
    session: Session,
    name: str,
    new_name: str,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Sequence:
    """A new draft sequence with the latest version's definition, owned by whoever clones it
    (their own to change), keeping the source's sharing."""
    source = _sequence(session, name, lock=False, viewer=viewer, privilege="clone sequences")
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
        owner_id=viewer.user_id if viewer.user_id is not None else source.owner_id,
        sharing=source.sharing,
        sharing_access=source.sharing_access,
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


def delete(
    *, session: Session, name: str, now: datetime, actor: str = "system", viewer: Viewer = OPERATOR
) -> None:
    """Delete a sequence nobody was ever enrolled in, with its versions and history."""
    seq = _sequence(session, name, viewer=viewer, privilege="delete sequences")
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
    catalog.forget_versions(session, version_ids)
    history.record(
        session,
        history.Subject(None),
        "sequence_deleted",
        now,
        reason=f"deleted by {actor}",
        actor=actor,
        sequence=name,
    )


def _sequence(
    session: Session,
    name: str,
    *,
    lock: bool = True,
    viewer: Viewer,
    privilege: str = "activate, pause and end sequences",
) -> Sequence:
    return access.sequence_for(
        session=session, viewer=viewer, name=name, privilege=privilege, lock=lock
    )


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


__all__ = [
    "MigrateReport",
    "activate",
    "archive",
    "clone",
    "delete",
    "end",
    "migrate",
    "pause",
    "resume",
]
