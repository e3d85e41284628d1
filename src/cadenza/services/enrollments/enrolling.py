"""Enrolling contacts into sequences (in bulk) and taking them out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.conditions import evaluate
from cadenza.core.decisions import LIVE_OR_PAUSED
from cadenza.core.definition import Condition
from cadenza.errors import Conflict
from cadenza.services.enrollments import many
from cadenza.services.enrollments.bulk import CHUNK, Enroller, EnrollReport, Target
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.bulk import chunks, cyclic_gc_paused
from cadenza.store.catalog import definition_for, latest_version, sequence_by_name
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Contact, ContactTag, Enrollment

ENROLLABLE = ("active", "paused", "draft")


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
    return enroll_into(
        session=session,
        target=target,
        sequence=sequence,
        contact_ids=contact_ids,
        now=now,
        settings=settings,
        initiator_id=initiator_id,
        actor=actor,
        depth=depth,
    )


def enroll_into(
    *,
    session: Session,
    target: Target,
    sequence: str,
    contact_ids: Iterable[int],
    now: datetime,
    settings: Settings,
    initiator_id: int | None = None,
    actor: str = "system",
    depth: int = 0,
) -> EnrollReport:
    """`enroll` into a version already looked up in this transaction (`sequence`: its name):
    a trigger's, from the trigger index, which lists only active sequences' latest versions."""
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


def enroll_audience(
    *,
    session: Session,
    sequence: str,
    contact_ids: Iterable[int] = (),
    tag: str | None = None,
    where: Condition | None = None,
    now: datetime,
    settings: Settings,
    initiator_id: int | None = None,
    actor: str = "system",
    viewer: Viewer = OPERATOR,
) -> EnrollReport:
    """Enroll the contacts named, everyone with `tag` and everyone matching `where` (once each)
    into a sequence the viewer may enroll into."""
    access.sequence_for(session=session, viewer=viewer, name=sequence, privilege="enroll")
    ids = list(contact_ids)
    if tag is not None or where is not None:
        ids += audience(session=session, tag=tag, where=where, now=now)
    return enroll(
        session=session,
        sequence=sequence,
        contact_ids=ids,
        now=now,
        settings=settings,
        initiator_id=initiator_id,
        actor=actor,
    )


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
    reason: str,
    actor: str = "system",
) -> int:
    """Take a contact out of a sequence (its live enrollments exit); how many exited."""
    seq = sequence_by_name(session, sequence)
    exited = many.transition_all(
        session,
        seq,
        lambda sit, state: machine.exit(sit, state, reason=reason),
        where=[Enrollment.contact_id == contact_id, Enrollment.status.in_(LIVE_OR_PAUSED)],
        now=now,
        actor=actor,
    )
    return len(exited)


def ever_enrolled(*, session: Session, sequence: str) -> set[int]:
    """The contacts with an enrollment of any status in the sequence."""
    seq = sequence_by_name(session, sequence)
    query = select(Enrollment.contact_id).where(Enrollment.sequence_id == seq.id).distinct()
    return set(session.scalars(query))


def count_live(session: Session, sequence_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.sequence_id == sequence_id, Enrollment.status.in_(LIVE_OR_PAUSED))
    ).scalar_one()
