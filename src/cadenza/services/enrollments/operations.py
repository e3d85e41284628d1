"""People's operations on one enrollment (DESIGN.md section 5): pause, resume, stop, remove,
move on to the next step, retry a step in error.

Each one locks the enrollment, asks the machine for the transition and applies it: what a
person may do to an enrollment is decided in `core.machine`, never here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core import calendar, machine
from cadenza.core.decisions import Decision, EnrollmentState, Refused
from cadenza.errors import Conflict, NotFound
from cadenza.services.enrollments.applying import Applier, ref_of, state_of
from cadenza.services.enrollments.task_rows import OPEN
from cadenza.services.lists.binding import take_off_list
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Enrollment, Sequence, Task

Transition = Callable[[machine.Situation, EnrollmentState], Decision]


@dataclass
class Loaded:
    """A locked enrollment, its sequence, and the situation the machine decides it in."""

    enrollment: Enrollment
    sequence: Sequence
    situation: machine.Situation


def load(
    session: Session,
    enrollment_id: int,
    now: datetime,
    settings: Settings | None = None,
    *,
    locked: Enrollment | None = None,
) -> Loaded:
    """The enrollment (locked for update, unless the caller passes it `locked` already) with
    everything the machine reads of it."""
    enrollment = locked if locked is not None else locked_enrollment(session, enrollment_id)
    sequence = session.get(Sequence, enrollment.sequence_id)
    assert sequence is not None
    definition = definition_for(session=session, version_id=enrollment.version_id)
    contact = load_views(session=session, contact_ids=[enrollment.contact_id])[
        enrollment.contact_id
    ]
    quiet = settings.quiet_hours if settings is not None else calendar.DEFAULT_QUIET
    situation = machine.Situation(
        definition, contact, now=now, sequence_status=sequence.status, quiet=quiet
    )
    return Loaded(enrollment, sequence, situation)


def decide(
    session: Session,
    loaded: Loaded,
    transition: Transition,
    *,
    now: datetime,
    actor: str,
    refresh: bool = True,
) -> Enrollment:
    """Apply one transition of a loaded enrollment; a refusal is a Conflict naming it.

    The changes are written past the ORM, so the enrollment is read again to answer with it;
    a caller that does not answer with it (completing a task) passes `refresh=False`."""
    enrollment, sit = loaded.enrollment, loaded.situation
    state = state_of(enrollment)
    try:
        decision = transition(sit, state)
    except Refused as exc:
        raise Conflict(f"enrollment {enrollment.id} {exc}") from None
    applier = Applier(session, now, actor)
    applier.apply(ref_of(enrollment, loaded.sequence.name, state), sit.definition, decision)
    applier.flush()  # a person's operation runs no step: it sets off no contact change
    if refresh:
        session.refresh(enrollment)
    return enrollment


def _operate(
    session: Session,
    enrollment_id: int,
    transition: Transition,
    *,
    now: datetime,
    actor: str,
    viewer: Viewer,
    settings: Settings | None = None,
    privilege: str = "enroll",
) -> Enrollment:
    access.enrollment_for(
        session=session, viewer=viewer, enrollment_id=enrollment_id, privilege=privilege
    )
    loaded = load(session, enrollment_id, now, settings)
    return decide(session, loaded, transition, now=now, actor=actor)


def pause_enrollment(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Hold one enrollment until a person resumes it (a sequence resume leaves it paused)."""
    reason = f"paused by {actor}"
    return _operate(
        session,
        enrollment_id,
        lambda sit, state: machine.pause(sit, state, by="person", reason=reason),
        now=now,
        actor=actor,
        viewer=viewer,
    )


def resume_enrollment(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Let a person-paused enrollment move again (under a paused sequence: when it resumes)."""
    access.enrollment_for(session=session, viewer=viewer, enrollment_id=enrollment_id)
    loaded = load(session, enrollment_id, now)
    task_open = _task_open(session, loaded.enrollment)
    reason = f"resumed by {actor}"
    return decide(
        session,
        loaded,
        lambda sit, state: machine.resume(
            sit, state, by="person", reason=reason, task_open=task_open
        ),
        now=now,
        actor=actor,
    )


def stop(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Pause an enrollment and cancel its open tasks (they leave people's to-do lists)."""
    reason = f"stopped by {actor}; open tasks canceled"
    return _operate(
        session,
        enrollment_id,
        lambda sit, state: machine.stop(sit, state, reason=reason),
        now=now,
        actor=actor,
        viewer=viewer,
    )


def remove(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Take a contact out as if never enrolled: its history, tasks and unsent messages go.

    The row stays as a tombstone with status `removed`, so `reentry: never` still refuses
    to enroll the contact again.
    """
    reason = f"removed by {actor}"
    removed = _operate(
        session,
        enrollment_id,
        lambda sit, state: machine.remove(sit, state, reason=reason),
        now=now,
        actor=actor,
        viewer=viewer,
        privilege="edit sequences",  # it takes back history: the sequence's editors only
    )
    # Off the sequence, off its list: adding them back enrolls them under the re-entry rule.
    definition = definition_for(session=session, version_id=removed.version_id)
    take_off_list(session=session, definition=definition, contact_ids=[removed.contact_id])
    return removed


def skip_to_next(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    settings: Settings,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Move on now: the current step is skipped and the next one is due at once."""
    reason = f"moved on by {actor}"
    return _operate(
        session,
        enrollment_id,
        lambda sit, state: machine.skip(sit, state, reason=reason),
        now=now,
        actor=actor,
        viewer=viewer,
        settings=settings,
    )


def retry_step(
    *,
    session: Session,
    enrollment_id: int,
    now: datetime,
    settings: Settings,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> Enrollment:
    """Run a step in error again now: its error task is resolved and the worker picks it up."""
    access.enrollment_for(session=session, viewer=viewer, enrollment_id=enrollment_id)
    loaded = load(session, enrollment_id, now, settings)
    enrollment = loaded.enrollment
    if state_of(enrollment).waiting_on_task and not _has_error_task(session, enrollment.id):
        raise Conflict(f"enrollment {enrollment_id} is waiting on a person, not on an error")
    return decide(session, loaded, machine.retry, now=now, actor=actor)


def locked_enrollment(session: Session, enrollment_id: int) -> Enrollment:
    """The enrollment with this id, locked for update, or NotFound."""
    enrollment = session.execute(
        select(Enrollment).where(Enrollment.id == enrollment_id).with_for_update()
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound(f"no enrollment {enrollment_id}")
    return enrollment


def _task_open(session: Session, enrollment: Enrollment) -> bool:
    """Whether the task the enrollment waits on (if any) is still open."""
    state = state_of(enrollment)
    if not state.waiting_on_task:
        return True
    open_tasks = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.enrollment_id == enrollment.id,
            Task.step == state.step,
            Task.status.in_(OPEN),
        )
    )
    return bool(open_tasks)


def _has_error_task(session: Session, enrollment_id: int) -> bool:
    found = session.scalar(
        select(Task.id).where(Task.enrollment_id == enrollment_id, Task.status == "error").limit(1)
    )
    return found is not None
