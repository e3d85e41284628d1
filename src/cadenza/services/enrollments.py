"""Enrolling contacts into sequences (in bulk) and taking them out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cadenza.core.conditions import evaluate
from cadenza.core.definition import Condition
from cadenza.errors import Conflict, NotFound
from cadenza.services import history, tasks
from cadenza.services.batching import cyclic_gc_paused
from cadenza.services.enrolling import CHUNK, Enroller, Target
from cadenza.services.enrolling import (  # this module's public names, as before
    LIVE_OR_PAUSED as LIVE_OR_PAUSED,
)
from cadenza.services.enrolling import (
    EnrollReport as EnrollReport,
)
from cadenza.services.views import chunks, definition_for, load_views
from cadenza.settings import Settings
from cadenza.store.models import Contact, ContactTag, Enrollment, Sequence, SequenceVersion

ENROLLABLE = ("active", "paused", "draft")


def latest_version(session: Session, sequence: Sequence) -> SequenceVersion:
    return session.execute(
        select(SequenceVersion)
        .where(SequenceVersion.sequence_id == sequence.id)
        .order_by(SequenceVersion.number.desc())
        .limit(1)
    ).scalar_one()


def sequence_by_name(session: Session, name: str) -> Sequence:
    found = session.execute(select(Sequence).where(Sequence.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no sequence named {name!r}")
    return found


ANALYZE_AFTER = 10_000  # enrollments in one call after which PostgreSQL's statistics are renewed


def enroll(
    *,
    session: Session,
    sequence: str,
    contact_ids: Iterable[int],
    now: datetime,
    settings: Settings,
    initiator_id: int | None = None,
    actor: str = "system",
    depth: int = 0,
) -> EnrollReport:
    """Enroll contacts in a few statements per chunk; refusals are recorded with reasons.

    A contact listed twice is enrolled (or refused) once.
    """
    seq = sequence_by_name(session, sequence)
    if seq.status not in ENROLLABLE:
        raise Conflict(f"sequence {sequence!r} is {seq.status}: nobody can be enrolled")
    version = latest_version(session, seq)
    target = Target(
        seq.id,
        version.id,
        definition_for(session=session, version_id=version.id),
        paused=seq.status == "paused",
    )
    enroller = Enroller(
        target,
        now,
        settings.quiet_hours,
        initiator_id=initiator_id,
        actor=actor,
        depth=depth,
    )
    report = EnrollReport(sequence)
    with cyclic_gc_paused():
        for batch in chunks(dict.fromkeys(contact_ids), CHUNK):
            enroller.enroll(session, batch, report)
    if len(report.enrolled) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # So many rows coming due at once change what the planner should expect of the due
        # index; fresh statistics (committed with the enrollments) spare the workers' first
        # claims a plan made for a table without them, until autovacuum would have caught up.
        session.execute(text("ANALYZE enrollments"))
    return report


def audience(
    *, session: Session, tag: str | None = None, where: Condition | None = None, now: datetime
) -> list[int]:
    """Contact ids with a tag and/or matching a condition."""
    query = select(Contact.id).order_by(Contact.id)
    if tag is not None:
        query = query.join(ContactTag, ContactTag.contact_id == Contact.id).where(
            ContactTag.tag == tag
        )
    ids = list(session.scalars(query))
    if where is None:
        return ids
    matched: list[int] = []
    for batch in chunks(ids):
        views = load_views(session=session, contact_ids=batch)
        matched.extend(i for i in batch if evaluate(where, views[i], (), now))
    return matched


def exit_contact(
    *,
    session: Session,
    sequence: str,
    contact_id: int,
    now: datetime,
    settings: Settings,
    reason: str,
    actor: str = "system",
) -> int:
    """Take a contact out of a sequence (its live enrollments exit); how many exited."""
    seq = sequence_by_name(session, sequence)
    rows = session.scalars(
        select(Enrollment)
        .where(
            Enrollment.sequence_id == seq.id,
            Enrollment.contact_id == contact_id,
            Enrollment.status.in_(LIVE_OR_PAUSED),
        )
        .with_for_update()
    ).all()
    for enrollment in rows:
        enrollment.status, enrollment.due_at = "exited", None
        enrollment.exit_reason, enrollment.updated_at = reason, now
        tasks.cancel_open(session, enrollment.id, now)
        history.record(
            session,
            history.Subject(contact_id, seq.id, enrollment.id),
            "exited",
            now,
            step=enrollment.step,
            reason=reason,
            actor=actor,
        )
    return len(rows)


def count_live(session: Session, sequence_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.sequence_id == sequence_id, Enrollment.status.in_(LIVE_OR_PAUSED))
    ).scalar_one()
