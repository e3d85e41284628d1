"""Events arriving for a contact: applied to the contact, its enrollments and the triggers."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.contact import FLAG_EVENTS
from cadenza.core.decisions import HistoryEntry
from cadenza.core.events import CONTACT_EVENTS, EventRecord
from cadenza.services import history
from cadenza.services.enrollments.applying import Applier, Ref, ref_of, state_of
from cadenza.services.events import changes as contact_changes
from cadenza.services.events import triggers
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for
from cadenza.store.machine_reads import load_views
from cadenza.store.models import Contact, Enrollment, Sequence

INBOUND = {"replied", "inbound_message", "out_of_office"}
FLAGS = {name: flag for name, (flag, _value) in FLAG_EVENTS.items()}


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
    from cadenza.errors import NotFound, ValidationFailed

    if name not in CONTACT_EVENTS:
        raise ValidationFailed(
            f"unknown event {name!r} (one of {', '.join(sorted(CONTACT_EVENTS))})"
        )
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"no contact {contact_id}")
    data = dict(data or {})
    records = _apply_to_contact(session, contact_id, name, data, now)
    for record in records:
        record_contact_event(session, contact_id, record, settings, actor=actor)
    return records


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
    if not contact_ids or not triggers.listening(session, "contact_created"):
        return
    record = EventRecord("contact_created", now)
    for contact_id in contact_ids:
        triggers.fire(session=session, contact_id=contact_id, event=record, settings=settings)


def _apply_to_contact(
    session: Session, contact_id: int, name: str, data: dict[str, Any], now: datetime
) -> list[EventRecord]:
    """Change the contact as the event says; the events that result (none if nothing changed)."""
    from cadenza.errors import ValidationFailed

    def need(key: str) -> Any:
        if key not in data:
            raise ValidationFailed(f"event {name} needs data.{key}")
        return data[key]

    if name == "tag_added":
        return contact_changes.add_tag(session, contact_id, str(need("tag")), now)
    if name == "tag_removed":
        return contact_changes.remove_tag(session, contact_id, str(need("tag")), now)
    if name == "disposition_changed":
        value = data.get("to", data.get("disposition"))
        return contact_changes.set_disposition(session, contact_id, value, now)
    if name == "field_changed":
        return contact_changes.set_field(
            session, contact_id, str(need("field")), data.get("value"), now
        )
    if name in ("dnc", "dnc_changed"):
        value = bool(data.get("dnc", True))
        changed = contact_changes.set_dnc(session, contact_id, value, now)
        return [EventRecord("dnc", now, data=data), *changed] if value else changed
    if name in FLAGS:
        contact_changes.set_flag(session, contact_id, FLAGS[name], FLAG_EVENTS[name][1], now)
    if name in INBOUND:
        contact_changes.touch_inbound(session, contact_id, now)
    return [EventRecord(name, now, step=data.pop("step", None), data=data)]


def record_contact_event(
    session: Session,
    contact_id: int,
    record: EventRecord,
    settings: Settings,
    *,
    actor: str = "system",
    source: Ref | None = None,
    depth: int = 0,
) -> None:
    """Write the event to history, then move the contact's enrollments and fire triggers.

    `source`: the enrollment whose step made the event (its own decision moved it already).
    The event is written once for each running enrollment of the contact and its source, so
    that it is found under each of their sequences; once on its own when there is none.
    """
    rows = _running(session, contact_id, source.id if source is not None else None)
    subjects = [history.Subject(contact_id, e.sequence_id, e.id) for e, _name, _status in rows]
    if source is not None:
        subjects.insert(0, history.Subject(contact_id, source.sequence_id, source.id))
    # The event's data is whatever its sender said: it goes in as data, never as arguments.
    entry = HistoryEntry(record.type, record.time, record.step, None, dict(record.data))
    history.write(
        session,
        [
            history.row(subject, entry, actor)
            for subject in subjects or [history.Subject(contact_id)]
        ],
    )
    if rows:
        _fan_out(session, contact_id, record, settings, rows)
    triggers.fire(
        session=session, contact_id=contact_id, event=record, settings=settings, depth=depth
    )


Running = list[tuple[Enrollment, str, str]]


def _running(session: Session, contact_id: int, exclude: int | None) -> Running:
    """The contact's live and paused enrollments (locked), with their sequence's name, status."""
    query = (
        select(Enrollment, Sequence.name, Sequence.status)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(
            Enrollment.contact_id == contact_id,
            Enrollment.status.in_(("active", "waiting", "paused")),
        )
        .order_by(Enrollment.id)
        .with_for_update(of=Enrollment)
    )
    if exclude is not None:
        query = query.where(Enrollment.id != exclude)
    return [(enrollment, name, status) for enrollment, name, status in session.execute(query)]


def _fan_out(
    session: Session, contact_id: int, record: EventRecord, settings: Settings, rows: Running
) -> None:
    contact = load_views(session=session, contact_ids=[contact_id])[contact_id]
    applier = Applier(session, record.time)
    for enrollment, name, status in rows:
        definition = definition_for(session=session, version_id=enrollment.version_id)
        sit = machine.Situation(
            definition,
            contact,
            now=record.time,
            sequence_status=status,
            quiet=settings.quiet_hours,
        )
        state = state_of(enrollment)
        decision = machine.on_event(sit, state, record)
        if decision.history:
            applier.apply(ref_of(enrollment, name, state), definition, decision)
    applier.flush()  # an event only moves enrollments: it sets off no contact change
