"""Events arriving for contacts: recorded, and applied to their enrollments and the triggers.

A batch of events — the changes a batch of steps made, a burst of opens, one reply — is
recorded with the same few statements whatever its size: one query for the contacts'
running enrollments, one for the trigger index, one insert of history, one update of the
enrollments that moved. Each event is still applied in its order, to the enrollments as the
events before it left them, so a batch ends exactly where the same events one by one would.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.contact import FLAG_EVENTS, ContactView
from cadenza.core.decisions import EnrollmentState, HistoryEntry
from cadenza.core.definition import Definition
from cadenza.core.events import CONTACT_EVENTS, EventRecord
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services import history
from cadenza.services.enrollments.applying import Applier, Ref, ref_of, state_of
from cadenza.services.events import changes as contact_changes
from cadenza.services.events import triggers
from cadenza.services.senders import health
from cadenza.settings import Settings
from cadenza.store.bulk import chunks, cyclic_gc_paused
from cadenza.store.catalog import definition_for
from cadenza.store.claims import ENROLLMENT_COLUMNS
from cadenza.store.machine_reads import among, load_views
from cadenza.store.models import Contact, Enrollment, Sequence

INBOUND = {"replied", "inbound_message", "out_of_office"}
RUNNING = ("active", "waiting", "paused")


@dataclass(frozen=True, slots=True)
class Incoming:
    """An event someone or something reports for a contact (`record_events`)."""

    contact_id: int
    name: str
    data: dict[str, Any] | None = None


@dataclass(slots=True)
class Arrival:
    """An event to record for a contact.

    `source`: the enrollment whose step made it (its own decision moved it already);
    `depth`: the trigger chain's count so far; `contact`: the contact as it stood right
    after the event's change, when the change was made in this batch (else read here).
    """

    contact_id: int
    record: EventRecord
    actor: str = "system"
    source: Ref | None = None
    depth: int = 0
    contact: ContactView | None = None


@dataclass(slots=True)
class Live:
    """A running enrollment of a contact, as the events of the batch so far left it."""

    ref: Ref
    state: EnrollmentState
    sequence_status: str


def record_event(
    *,
    session: Session,
    contact_id: int,
    name: str,
    data: dict[str, Any] | None,
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> list[EventRecord]:
    """Record what happened to a contact and apply it everywhere it matters."""
    [records] = record_events(
        session=session,
        events=[Incoming(contact_id, name, data)],
        now=now,
        settings=settings,
        actor=actor,
    )
    return records


def record_events(
    *,
    session: Session,
    events: Seq[Incoming],
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> list[list[EventRecord]]:
    """Record a batch of events, in order, and apply them; the events each one made."""
    for event in events:
        if event.name not in CONTACT_EVENTS:
            raise ValidationFailed(
                f"unknown event {event.name!r} (one of {', '.join(sorted(CONTACT_EVENTS))})"
            )
    # A batch makes a few small objects per event and no cycles (as the worker's batches):
    # the cycle collector's passes over everything the process holds would cost more.
    with cyclic_gc_paused():
        return _record_events(session, events, now, settings, actor)


def _record_events(
    session: Session, events: Seq[Incoming], now: datetime, settings: Settings, actor: str
) -> list[list[EventRecord]]:
    _check_contacts(session, {event.contact_id for event in events})
    wanted = [_change_of(event) for event in events]
    # What each event sees of its contact: the contact as the changes before it in the
    # batch left it, never a change reported after it. Contacts the batch changes are read
    # before the changes are made when an event of theirs changes nothing.
    changed = {c.contact_id for c in wanted if c is not None}
    early = {e.contact_id for e, c in zip(events, wanted, strict=True) if c is None} & changed
    seen = load_views(session=session, contact_ids=early) if early else {}
    applied = iter(contact_changes.apply(session, [c for c in wanted if c is not None], now))
    made: list[list[EventRecord]] = []
    arrivals: list[Arrival] = []
    for event, change in zip(events, wanted, strict=True):
        after = next(applied) if change is not None else None
        records = _records_of(event, now, after)
        if after is not None:
            seen[event.contact_id] = after.contact
        contact = seen.get(event.contact_id)
        arrivals.extend(Arrival(event.contact_id, r, actor, contact=contact) for r in records)
        made.append(records)
    record_arrivals(session, arrivals, settings)
    if session.info.get(health.NOTED):
        health.check_noted(session, settings)  # a bounce or complaint may pause its mailbox
    return made


def contacts_created(
    *,
    session: Session,
    contact_ids: Seq[int],
    now: datetime,
    settings: Settings,
    actor: str = "system",
) -> None:
    """New contacts are announced: `contact_created` in history, and the triggers on it fire."""
    entry = HistoryEntry("contact_created", now)
    history.write(session, [history.row(history.Subject(cid), entry, actor) for cid in contact_ids])
    if not contact_ids:
        return
    record = EventRecord("contact_created", now)
    listeners = triggers.index(session).matching(record)
    if listeners:
        triggers.fire(
            session=session,
            contact_ids=contact_ids,
            event=record,
            settings=settings,
            listeners=listeners,
        )


def _check_contacts(session: Session, ids: set[int]) -> None:
    found: set[int] = set()
    dialect = session.get_bind().dialect.name
    for batch in chunks(sorted(ids)):
        found.update(session.scalars(select(Contact.id).where(among(Contact.id, batch, dialect))))
    missing = sorted(ids - found)
    if missing:
        raise NotFound(f"no contact {missing[0]}")


def _change_of(event: Incoming) -> contact_changes.Change | None:
    """The change an incoming event makes to its contact, if any."""
    data, name, cid = event.data or {}, event.name, event.contact_id

    def need(key: str) -> Any:
        if key not in data:
            raise ValidationFailed(f"event {name} needs data.{key}")
        return data[key]

    if name == "tag_added":
        return contact_changes.Change(cid, "add_tag", {"tag": str(need("tag"))})
    if name == "tag_removed":
        return contact_changes.Change(cid, "remove_tag", {"tag": str(need("tag"))})
    if name == "disposition_changed":
        value = data.get("to", data.get("disposition"))
        return contact_changes.Change(cid, "set_disposition", {"disposition": value})
    if name == "field_changed":
        params = {"field": str(need("field")), "value": data.get("value")}
        return contact_changes.Change(cid, "set_field", params)
    if name in ("dnc", "dnc_changed"):
        return contact_changes.Change(cid, "set_dnc", {"dnc": bool(data.get("dnc", True))})
    if name in FLAG_EVENTS:
        flag, value = FLAG_EVENTS[name]
        return contact_changes.Change(cid, "set_flag", {"flag": flag, "value": value})
    if name in INBOUND:
        return contact_changes.Change(cid, "touch_inbound", {})
    return None


def _records_of(
    event: Incoming, now: datetime, applied: contact_changes.Applied | None
) -> list[EventRecord]:
    """The events to record for an incoming one: what its change made, or the event itself."""
    data = dict(event.data or {})
    if event.name in ("tag_added", "tag_removed", "disposition_changed", "field_changed"):
        return applied.records if applied is not None else []
    if event.name in ("dnc", "dnc_changed"):
        changed = applied.records if applied is not None else []
        return [EventRecord("dnc", now, data=data), *changed] if data.get("dnc", True) else changed
    return [EventRecord(event.name, now, step=data.pop("step", None), data=data)]


def record_arrivals(
    session: Session,
    arrivals: Seq[Arrival],
    settings: Settings,
    *,
    index: triggers.Index | None = None,
    running: dict[int, list[Live]] | None = None,
) -> None:
    """Write each event to history, then move the contacts' enrollments and fire triggers.

    An event is written once for each running enrollment of its contact and its source, so
    that it is found under each of their sequences; once on its own when there is none.
    `index` and `running` (`running_of`): read already by the caller, for these contacts.
    """
    if not arrivals:
        return
    index = index if index is not None else triggers.index(session)
    if running is None:
        running = running_of(session, {a.contact_id for a in arrivals})
    views = _views_needed(session, arrivals, running)
    applier = Applier(session, arrivals[0].record.time)
    fires = _Fires(session, settings)
    definitions: dict[int, Definition] = {}  # by version: looked up once a batch
    for arrival in arrivals:
        if arrival.contact_id in fires.contacts or arrival.record.time != applier.now:
            # What the triggers do must be seen by the events after them, and one Applier
            # writes decisions made at one time.
            applier.flush()
            fires.fire(running, views, arrivals)
            applier = Applier(session, arrival.record.time)
        live = _live_for(running.get(arrival.contact_id, ()), arrival.source)
        _write_history(applier, arrival, live)
        contact = arrival.contact or views.get(arrival.contact_id)
        for enrollment in live:
            assert contact is not None, "a contact with running enrollments has its view"
            _move(applier, enrollment, contact, arrival.record, settings, definitions)
        listeners = index.matching(arrival.record)
        if listeners:
            fires.add(arrival, listeners)
    applier.flush()  # an event only moves enrollments: it sets off no contact change
    fires.fire(running, views, arrivals, last=True)


class _Fires:
    """Triggers matched by events of a batch, fired together once those events are applied.

    Events of different contacts that set off the same triggers at the same depth enroll
    their contacts in one call; an event of a contact with triggers still to fire waits
    until they have (the caller fires them first), so each contact sees them in order.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session, self.settings = session, settings
        self.groups: dict[tuple[Any, ...], tuple[Arrival, list[triggers.Listener], list[int]]]
        self.groups = {}
        self.contacts: set[int] = set()

    def add(self, arrival: Arrival, listeners: list[triggers.Listener]) -> None:
        record = arrival.record
        key = (tuple(map(id, listeners)), arrival.depth, record.time, record.type)
        self.groups.setdefault(key, (arrival, listeners, []))[2].append(arrival.contact_id)
        self.contacts.add(arrival.contact_id)

    def fire(
        self,
        running: dict[int, list[Live]],
        views: dict[int, ContactView],
        arrivals: Seq[Arrival],
        *,
        last: bool = False,
    ) -> None:
        """Fire what is pending, then read again the enrollments it may have moved (unless
        it is the `last` firing of the batch: no event comes after it to see them)."""
        if not self.groups:
            return
        for arrival, listeners, contact_ids in self.groups.values():
            triggers.fire(
                session=self.session,
                contact_ids=contact_ids,
                event=arrival.record,
                settings=self.settings,
                listeners=listeners,
                depth=arrival.depth,
            )
        moved, self.groups, self.contacts = self.contacts, {}, set()
        if last:
            return
        running.update({cid: [] for cid in moved})
        running.update(running_of(self.session, moved))
        unseen = {a.contact_id for a in arrivals if a.contact is None} & moved
        if unseen:
            views.update(load_views(session=self.session, contact_ids=unseen))


def _live_for(enrollments: Iterable[Live], source: Ref | None) -> list[Live]:
    return [
        e
        for e in enrollments
        if e.state.status in RUNNING and (source is None or e.ref.id != source.id)
    ]


def _write_history(applier: Applier, arrival: Arrival, live: list[Live]) -> None:
    cid, record = arrival.contact_id, arrival.record
    subjects = [history.Subject(cid, e.ref.sequence_id, e.ref.id) for e in live]
    if arrival.source is not None:
        source = arrival.source
        subjects.insert(0, history.Subject(cid, source.sequence_id, source.id))
    # The event's data is whatever its sender said: it goes in as data, never as arguments.
    entry = HistoryEntry(record.type, record.time, record.step, None, dict(record.data))
    for subject in subjects or [history.Subject(cid)]:
        applier.history.append(history.row(subject, entry, arrival.actor))


def _move(
    applier: Applier,
    enrollment: Live,
    contact: ContactView,
    record: EventRecord,
    s: Settings,
    definitions: dict[int, Definition],
) -> None:
    version_id = enrollment.ref.version_id
    definition = definitions.get(version_id)
    if definition is None:
        definition = definition_for(session=applier.session, version_id=version_id)
        definitions[version_id] = definition
    sit = machine.Situation(
        definition,
        contact,
        now=record.time,
        sequence_status=enrollment.sequence_status,
        quiet=s.quiet_hours,
    )
    decision = machine.on_event(sit, enrollment.state, record)
    if decision.history:
        enrollment.state = applier.apply(enrollment.ref, definition, decision)


def _views_needed(
    session: Session, arrivals: Seq[Arrival], running: dict[int, list[Live]]
) -> dict[int, ContactView]:
    """Views of the contacts whose events came without one and that have enrollments to move."""
    ids = {a.contact_id for a in arrivals if a.contact is None and running.get(a.contact_id)}
    return load_views(session=session, contact_ids=ids) if ids else {}


def running_of(session: Session, contact_ids: set[int]) -> dict[int, list[Live]]:
    """The contacts' live and paused enrollments (locked), in id order, per contact."""
    found: dict[int, list[Live]] = {}
    dialect = session.get_bind().dialect.name
    for batch in chunks(sorted(contact_ids)):
        query = (
            select(*ENROLLMENT_COLUMNS, Enrollment.paused_from, Enrollment.paused_by)
            .add_columns(Sequence.name, Sequence.status.label("sequence_status"))
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(among(Enrollment.contact_id, batch, dialect), Enrollment.status.in_(RUNNING))
            .order_by(Enrollment.id)
            .with_for_update(of=Enrollment)
        )
        for row in session.execute(query):
            state = state_of(row)
            live = Live(ref_of(row, row.name, state), state, row.sequence_status)
            found.setdefault(row.contact_id, []).append(live)
    return found
