"""Contact changes made for a whole batch end exactly where the same changes one by one do.

The batched path reads the contacts once, applies every change in memory, writes them in a
few statements and records their events together. Whatever the changes, the contacts, tags,
dialer entries, enrollments (moved by `wait_for`, `exit.when`, triggers) and history must be
the same as when each change is made and recorded on its own.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.decisions import ChangeContact
from cadenza.services import enrollments, users
from cadenza.services.enrollments.applying import Consequences, Ref, ref_of, state_of
from cadenza.services.events import propagate
from cadenza.services.events.recording import Incoming, record_events
from cadenza.store.models import Contact, ContactTag, DialerEntry, Enrollment, Event, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

T0 = "2026-12-01T15:00:00Z"
LATER = at("2026-12-01T16:00:00Z")
USERS = ("ana@example.com", "ben@example.com")
SOURCE = """
name: Source
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: hold, action: end, wait: {days: 30}}
"""
WATCH = """
name: Watch
schedule: {timezone: UTC, days: every_day, holidays: none}
exit:
  on: [dnc]
  when: {field: disposition, op: eq, value: lost}
steps:
  - key: listen
    action: wait_for
    events: [tag_added, owner_changed]
    timeout: {days: 3}
    routes: {owner_changed: done}
  - {key: more, action: end, wait: {days: 2}}
  - {key: done, action: end, wait: {days: 4}}
"""
HANDOFF = """
name: Handoff
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment:
  triggers:
    - {on: tag_added, tag: hot}
    - {on: disposition_changed, to: won, action: exit}
steps:
  - {key: call_soon, action: end, wait: {days: 5}}
"""

CHANGE = st.one_of(
    st.builds(lambda t: ("add_tag", {"tag": t}), st.sampled_from(["a", "b", "hot"])),
    st.builds(lambda t: ("remove_tag", {"tag": t}), st.sampled_from(["a", "hot"])),
    st.builds(
        lambda d: ("set_disposition", {"disposition": d}), st.sampled_from(["won", "lost", "new"])
    ),
    st.builds(
        lambda f, v: ("set_field", {"field": f, "value": v}),
        st.sampled_from(["company", "score", "disposition"]),
        st.sampled_from(["x", "lost", "y"]),
    ),
    st.builds(lambda u: ("set_owner", {"owner": f"user:{u}"}), st.sampled_from(USERS)),
    st.just(("mark_dnc", {})),
    st.builds(
        lambda add: ("add_to_dialer" if add else "remove_from_dialer", {"list": "power"}),
        st.booleans(),
    ),
)
CHANGES = st.lists(st.tuples(st.integers(0, 2), CHANGE), min_size=1, max_size=10)


def _prepare(db: Database) -> None:
    with write(db) as session:
        for email in USERS:
            users.add_user(session=session, email=email, now=at(T0))
        for text in (SOURCE, WATCH, HANDOFF):
            store(session, text, at(T0))
        ids = [
            add_contact(session, at(T0), email=f"p{i}@example.com", phone=None) for i in range(3)
        ]
        for name in ("Source", "Watch"):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=ids, now=at(T0), settings=SETTINGS
            )
    run_worker(db, T0)


def _sources(session: Session) -> list[Ref]:
    query = (
        select(Enrollment, Sequence.name)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(Sequence.name == "Source")
        .order_by(Enrollment.contact_id)
    )
    return [ref_of(e, name, state_of(e)) for e, name in session.execute(query)]


def _apply(
    session: Session, changes: list[tuple[int, tuple[str, dict[str, Any]]]], one: bool
) -> None:
    refs = _sources(session)
    made = [(refs[who], ChangeContact("step", action, params)) for who, (action, params) in changes]
    for part in [[m] for m in made] if one else [made]:
        propagate(session, Consequences(changes=part), LATER, SETTINGS)
    session.flush()


def _state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a change may reach, without the ids a database hands out.

    History is compared contact by contact, in order: what happens to different contacts in
    one batch may interleave differently, what happens to one contact may not.
    """
    where = {e.id: (e.sequence_id, e.contact_id) for e in session.scalars(select(Enrollment))}
    contact = Contact.__table__.columns
    return {
        "contacts": [
            tuple(row)
            for row in session.execute(
                select(*[c for c in contact if c.key != "id"]).order_by(Contact.id)
            )
        ],
        "tags": sorted(
            tuple(r) for r in session.execute(select(ContactTag.contact_id, ContactTag.tag))
        ),
        "dialer": sorted(
            tuple(r) for r in session.execute(select(DialerEntry.contact_id, DialerEntry.list_name))
        ),
        "enrollments": sorted(
            (
                e.sequence_id,
                e.contact_id,
                e.status,
                e.step,
                str(e.due_at),
                e.exit_reason,
                repr(e.state),
            )
            for e in session.scalars(select(Enrollment))
        ),
        "history": [
            (
                ev.time,
                ev.type,
                ev.contact_id,
                ev.sequence_id,
                where.get(ev.enrollment_id or -1),
                ev.step,
                ev.actor,
                ev.reason,
                repr(ev.data),
            )
            for ev in session.scalars(
                select(Event).where(Event.time == LATER).order_by(Event.contact_id, Event.id)
            )
        ],
    }


def test_a_batch_of_changes_ends_where_the_same_changes_one_by_one_do(db: Database) -> None:
    _prepare(db)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(changes=CHANGES)
    def check(changes: list[tuple[int, tuple[str, dict[str, Any]]]]) -> None:
        with db.sessions() as session:
            _apply(session, changes, one=False)
            batched = _state(session)
            session.rollback()
            _apply(session, changes, one=True)
            single = _state(session)
            session.rollback()
        for key in batched:
            assert batched[key] == single[key], (key, changes, batched[key], single[key])

    check()


LISTEN = """
name: Listen
schedule: {timezone: UTC, days: every_day, holidays: none}
exit:
  on: [replied, unsubscribed]
steps:
  - key: hear
    action: wait_for
    events: [opened, clicked, tag_added]
    timeout: {days: 3}
    routes: {clicked: keen}
  - {key: more, action: end, wait: {days: 2}}
  - {key: keen, action: end, wait: {days: 4}}
"""
INCOMING = st.one_of(
    st.builds(lambda n: (n, {"step": "hello"}), st.sampled_from(["opened", "clicked"])),
    st.just(("replied", {"step": "hello"})),
    st.sampled_from([("unsubscribed", {}), ("out_of_office", {}), ("dnc", {"dnc": True})]),
    st.builds(lambda t: ("tag_added", {"tag": t}), st.sampled_from(["a", "hot"])),
    st.builds(lambda t: ("tag_removed", {"tag": t}), st.sampled_from(["a", "hot"])),
    st.builds(lambda d: ("disposition_changed", {"to": d}), st.sampled_from(["won", "lost"])),
)
BURSTS = st.lists(st.tuples(st.integers(0, 2), INCOMING), min_size=1, max_size=12)


def _prepare_listening(db: Database) -> list[int]:
    with write(db) as session:
        for text in (LISTEN, WATCH, HANDOFF):
            store(session, text, at(T0))
        ids = [
            add_contact(session, at(T0), email=f"q{i}@example.com", phone=None) for i in range(3)
        ]
        for name in ("Listen", "Watch"):
            enrollments.enroll(
                session=session, sequence=name, contact_ids=ids, now=at(T0), settings=SETTINGS
            )
    run_worker(db, T0)
    return ids


def test_a_burst_of_events_ends_where_the_same_events_one_by_one_do(db: Database) -> None:
    """Opens, clicks, replies, STOPs and changes reported together: exits, routes, triggers
    and history as if each had been reported alone."""
    ids = _prepare_listening(db)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(burst=BURSTS)
    def check(burst: list[tuple[int, tuple[str, dict[str, Any]]]]) -> None:
        incoming = [Incoming(ids[who], name, dict(data)) for who, (name, data) in burst]
        with db.sessions() as session:
            record_events(session=session, events=incoming, now=LATER, settings=SETTINGS)
            session.flush()
            batched = _state(session)
            session.rollback()
            for event in incoming:
                record_events(session=session, events=[event], now=LATER, settings=SETTINGS)
            session.flush()
            single = _state(session)
            session.rollback()
        for key in batched:
            assert batched[key] == single[key], (key, burst, batched[key], single[key])

    check()
