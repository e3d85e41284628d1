"""Triggers: contact events that enroll a contact into a sequence or take it out."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Trigger
from cadenza.core.events import EventRecord
from cadenza.services import history
from cadenza.services.enrollments import enrolling as enrollments
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.models import Sequence, SequenceVersion

log = logging.getLogger(__name__)
MAX_DEPTH = 5


def matches(trigger: Trigger, event: EventRecord) -> bool:
    """Whether an event is the one a trigger listens for."""
    if trigger.on != event.type:
        return False
    data = event.data
    if trigger.tag is not None and data.get("tag") != trigger.tag:
        return False
    if trigger.to is not None and data.get("to") != trigger.to:
        return False
    if trigger.from_ is not None and data.get("from") != trigger.from_:
        return False
    if trigger.disposition is not None and data.get("disposition") != trigger.disposition:
        return False
    if trigger.min_duration is not None:
        try:
            if float(data.get("duration") or 0) < trigger.min_duration:
                return False
        except (TypeError, ValueError):
            return False
    return trigger.dnc is None or bool(data.get("dnc")) == trigger.dnc


def fire(
    *, session: Session, contact_id: int, event: EventRecord, settings: Settings, depth: int = 0
) -> None:
    """Enroll or exit the contact wherever an active sequence's trigger matches the event."""
    for sequence_id, name, version_id in _active_latest(session):
        definition = definition_for(session=session, version_id=version_id)
        for trigger in definition.enrollment.triggers:
            if not matches(trigger, event):
                continue
            if depth >= MAX_DEPTH:
                history.record(
                    session,
                    history.Subject(contact_id, sequence_id),
                    "trigger_skipped",
                    event.time,
                    reason=f"trigger chain deeper than {MAX_DEPTH}: a loop between sequences?",
                    trigger=trigger.on,
                )
                continue
            actor = f"trigger:{trigger.on}"
            if trigger.action == "enroll":
                enrollments.enroll(
                    session=session,
                    sequence=name,
                    contact_ids=[contact_id],
                    now=event.time,
                    settings=settings,
                    depth=depth + 1,
                    actor=actor,
                )
            else:
                enrollments.exit_contact(
                    session=session,
                    sequence=name,
                    contact_id=contact_id,
                    now=event.time,
                    reason=f"trigger: {trigger.on}",
                    actor=actor,
                )


def listening(session: Session, event: str) -> bool:
    """Whether any active sequence has a trigger on this event."""
    for _sequence_id, _name, version_id in _active_latest(session):
        definition = definition_for(session=session, version_id=version_id)
        if any(trigger.on == event for trigger in definition.enrollment.triggers):
            return True
    return False


def _active_latest(session: Session) -> list[tuple[int, str, int]]:
    latest = (
        select(SequenceVersion.sequence_id, func.max(SequenceVersion.number).label("number"))
        .group_by(SequenceVersion.sequence_id)
        .subquery()
    )
    query = (
        select(Sequence.id, Sequence.name, SequenceVersion.id)
        .join(latest, latest.c.sequence_id == Sequence.id)
        .join(
            SequenceVersion,
            (SequenceVersion.sequence_id == Sequence.id)
            & (SequenceVersion.number == latest.c.number),
        )
        .where(Sequence.status == "active")
    )
    return [(a, b, c) for a, b, c in session.execute(query)]
