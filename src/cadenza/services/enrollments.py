"""Enrolling contacts into sequences (in bulk) and taking them out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core import calendar, machine
from cadenza.core.conditions import evaluate
from cadenza.core.contact import ContactView
from cadenza.core.definition import ACTION_CHANNEL, Condition, Definition
from cadenza.errors import Conflict, NotFound
from cadenza.services import history, tasks
from cadenza.services.views import chunks, definition_for, load_views
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.bulk import ENROLLMENTS
from cadenza.store.models import Contact, ContactTag, Enrollment, Sequence, SequenceVersion

ENROLLABLE = ("active", "paused", "draft")
LIVE_OR_PAUSED = ("active", "waiting", "paused")


@dataclass
class EnrollReport:
    """Who was enrolled and who was refused, with the reason for each refusal."""

    sequence: str
    enrolled: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


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
    """Enroll contacts in a few statements per thousand; refusals are recorded with reasons."""
    seq = sequence_by_name(session, sequence)
    if seq.status not in ENROLLABLE:
        raise Conflict(f"sequence {sequence!r} is {seq.status}: nobody can be enrolled")
    version = latest_version(session, seq)
    definition = definition_for(session=session, version_id=version.id)
    report = EnrollReport(sequence)
    for batch in chunks(contact_ids):
        _enroll_batch(
            session,
            seq,
            version.id,
            definition,
            batch,
            now,
            report,
            initiator_id=initiator_id,
            actor=actor,
            depth=depth,
            quiet=settings.quiet_hours,
        )
    return report


def _enroll_batch(
    session: Session,
    seq: Sequence,
    version_id: int,
    definition: Definition,
    batch: list[int],
    now: datetime,
    report: EnrollReport,
    *,
    initiator_id: int | None,
    actor: str,
    depth: int,
    quiet: calendar.QuietHours,
) -> None:
    views = load_views(session=session, contact_ids=batch)
    before = _existing(session, seq.id, batch)
    inbound = dict(
        session.execute(
            select(Contact.id, Contact.last_inbound_at).where(Contact.id.in_(batch))
        ).all()
    )
    rows: list[dict[str, Any]] = []
    decisions = []
    refused_rows: list[dict[str, Any]] = []
    for contact_id in dict.fromkeys(batch):
        view = views.get(contact_id)
        reason = (
            "no such contact"
            if view is None
            else _refusal(
                definition, view, before.get(contact_id, ()), inbound.get(contact_id), now
            )
        )
        if reason or view is None:
            report.refused.append((contact_id, reason or "no such contact"))
            if view is not None:
                refused_rows.append(
                    history.row(
                        history.Subject(contact_id, seq.id),
                        _entry("enroll_refused", now, reason),
                        actor,
                    )
                )
            continue
        decision = machine.enroll(machine.Situation(definition, view, now=now, quiet=quiet))
        state = decision.state
        paused = seq.status == "paused"
        rows.append(
            {
                "sequence_id": seq.id,
                "version_id": version_id,
                "contact_id": contact_id,
                "status": "paused" if paused else state.status,
                "step": state.step,
                "due_at": state.due_at,
                "enrolled_at": now,
                "updated_at": now,
                "initiator_id": initiator_id,
                "state": {"visits": {}, **({"depth": depth} if depth else {})},
                "paused_from": state.status if paused else None,
                "paused_by": "sequence" if paused else None,
            }
        )
        decisions.append((contact_id, decision))
    if rows:
        ids = bulk.insert_returning_ids(session, ENROLLMENTS, rows)
        for enrollment_id, (contact_id, decision) in zip(ids, decisions, strict=True):
            subject = history.Subject(contact_id, seq.id, enrollment_id)
            refused_rows.extend(history.row(subject, e, actor) for e in decision.history)
            report.enrolled.append(contact_id)
    history.write(session, refused_rows)


def _entry(type_: str, now: datetime, reason: str | None) -> Any:
    from cadenza.core.decisions import HistoryEntry

    return HistoryEntry(type_, now, None, reason)


def _existing(session: Session, sequence_id: int, batch: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = select(Enrollment.contact_id, Enrollment.status).where(
        Enrollment.sequence_id == sequence_id, Enrollment.contact_id.in_(batch)
    )
    for contact_id, status in session.execute(query):
        found.setdefault(contact_id, []).append(status)
    return found


def _refusal(
    definition: Definition,
    contact: ContactView,
    before: Iterable[str],
    last_inbound: datetime | None,
    now: datetime,
) -> str | None:
    """Why this contact may not be enrolled now, if so."""
    before = list(before)
    policy = definition.enrollment
    if before and policy.reentry == "never":
        return "already enrolled once (reentry: never)"
    if any(s in LIVE_OR_PAUSED for s in before) and policy.reentry != "always":
        return "already in this sequence"
    blocked = _blocked_channels(definition, contact)
    if blocked:
        return blocked
    minutes = policy.communicating_minutes
    if minutes and last_inbound is not None and (now - last_inbound).total_seconds() < minutes * 60:
        return f"the contact wrote in the last {minutes} minutes (skip_if_communicating)"
    window = policy.only_enroll_between
    if window is not None:
        zone = calendar.recipient_zone(definition.schedule, contact.timezone)
        local = now.astimezone(zone).time()
        if not window.open <= local < window.close:
            return (
                f"outside enrollment hours {window.open:%H:%M}-{window.close:%H:%M} "
                f"({local:%H:%M} {zone.key})"
            )
    return None


def _blocked_channels(definition: Definition, contact: ContactView) -> str | None:
    """A reason when the contact may be reached on none of the sequence's channels."""
    channels = {ACTION_CHANNEL[s.action] for s in definition.steps if s.action in ACTION_CHANNEL}
    if not channels:
        return None
    if contact.dnc:
        return "contact is do-not-contact"
    open_channels = set(channels)
    if contact.sms_opted_out:
        open_channels -= {"sms", "mms"}
    if contact.email_unsubscribed or contact.email_bounced:
        open_channels -= {"email"}
    if open_channels:
        return None
    flags = [
        name
        for name, on in (
            ("opted out of SMS", contact.sms_opted_out),
            ("unsubscribed", contact.email_unsubscribed),
            ("bounced", contact.email_bounced),
        )
        if on
    ]
    return f"contact is {' and '.join(flags)}: no channel of this sequence may reach them"


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
