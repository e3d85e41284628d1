"""Triggers: contact events that enroll a contact into a sequence or take it out."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition, Trigger
from cadenza.core.events import EventRecord
from cadenza.services import history
from cadenza.services.enrollments import enrolling as enrollments
from cadenza.services.enrollments.bulk import Target
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
    if trigger.direction is not None and data.get("direction") != trigger.direction:
        return False
    if trigger.min_duration is not None:
        name = f"{trigger.measure}_duration" if trigger.measure else "duration"
        try:
            if float(data.get(name) or 0) < trigger.min_duration:
                return False
        except (TypeError, ValueError):
            return False
    return trigger.dnc is None or bool(data.get("dnc")) == trigger.dnc


@dataclass(frozen=True, slots=True)
class Listener:
    """A trigger of an active sequence's latest version (which it enrolls contacts into)."""

    sequence_id: int
    sequence_name: str
    trigger: Trigger
    version_id: int
    definition: Definition = field(compare=False, repr=False)

    def target(self) -> Target:
        return Target(self.sequence_id, self.version_id, self.definition, paused=False)


class Index:
    """The triggers of the active sequences, by the event they listen for."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.by_event: dict[str, list[Listener]] = defaultdict(list)
        for listener in listeners:
            self.by_event[listener.trigger.on].append(listener)

    def listening(self, event: str) -> bool:
        """Whether any active sequence has a trigger on this event."""
        return event in self.by_event

    def matching(self, event: EventRecord) -> list[Listener]:
        """The triggers this event sets off, in the order the sequences were made."""
        return [x for x in self.by_event.get(event.type, ()) if matches(x.trigger, event)]


# Per database: the active sequences' latest versions the index was built from, and the index.
_indexes: dict[str, tuple[tuple[tuple[int, str, int, str], ...], Index]] = {}


def index(session: Session) -> Index:
    """The trigger index as the catalog stands: rebuilt only when a sequence changed.

    One query tells which versions of which sequences are active now; a new version, a
    status change, a rename or a deletion gives another answer (the digest tells a version
    apart from one that took a deleted version's id), and the index is rebuilt from the
    cached definitions. Callers ask once per batch of events, never per event.
    """
    active = tuple(_active_latest(session))
    url = str(session.get_bind().engine.url)
    cached = _indexes.get(url)
    if cached is not None and cached[0] == active:
        return cached[1]
    definitions = {v: definition_for(session=session, version_id=v) for _s, _n, v, _d in active}
    listeners = [
        Listener(sequence_id, name, trigger, version_id, definitions[version_id])
        for sequence_id, name, version_id, _digest in active
        for trigger in definitions[version_id].enrollment.triggers
    ]
    built = Index(listeners)
    _indexes[url] = (active, built)
    return built


def fire(
    *,
    session: Session,
    contact_ids: Seq[int],
    event: EventRecord,
    settings: Settings,
    listeners: list[Listener],
    depth: int = 0,
) -> None:
    """Enroll or exit the contacts wherever a matching trigger says (`Index.matching`).

    The contacts share the event's trigger matches and depth: each trigger enrolls them
    all in one call, in their order.
    """
    for listener in listeners:
        trigger, sequence_id, name = listener.trigger, listener.sequence_id, listener.sequence_name
        if depth >= MAX_DEPTH:
            for contact_id in contact_ids:
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
            # The index was read in this transaction: its version is the one to enroll into,
            # with no need to look the sequence up again by name.
            enrollments.enroll_into(
                session=session,
                target=listener.target(),
                sequence=name,
                contact_ids=contact_ids,
                now=event.time,
                settings=settings,
                depth=depth + 1,
                actor=actor,
            )
            continue
        for contact_id in contact_ids:
            enrollments.exit_contact(
                session=session,
                sequence=name,
                contact_id=contact_id,
                now=event.time,
                reason=f"trigger: {trigger.on}",
                actor=actor,
            )


def _active_latest(session: Session) -> list[tuple[int, str, int, str]]:
    return [(a, b, c, d) for a, b, c, d in session.execute(_active_latest_query())]


@cache
def _active_latest_query() -> Select[int, str, int, str]:
    """Built once: a statement made afresh costs its building and its cache key (about
    0.35 ms) at every batch of events and every API write that records one, six times what
    running it costs."""
    latest = (
        select(SequenceVersion.sequence_id, func.max(SequenceVersion.number).label("number"))
        .group_by(SequenceVersion.sequence_id)
        .subquery()
    )
    query = (
        select(Sequence.id, Sequence.name, SequenceVersion.id, SequenceVersion.digest)
        .join(latest, latest.c.sequence_id == Sequence.id)
        .join(
            SequenceVersion,
            (SequenceVersion.sequence_id == Sequence.id)
            & (SequenceVersion.number == latest.c.number),
        )
        .where(Sequence.status == "active")
        .order_by(Sequence.id)
    )
    return query
