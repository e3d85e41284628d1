"""Every figure equals a plain count over history, whatever happened and in whatever order.

Random streams of enrollments (and re-enrollments), sends, opens, clicks, replies, bounces,
unsubscribes, opt-outs, outcomes, exits and removals (which delete history) go through the
real services on a real database; then the counters are compared, day by day, with a count
of each enrollment's first time for each figure over the history that is left.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cadenza.services import enrollments, reports
from cadenza.services.events.recording import Incoming, record_events
from cadenza.services.reports import counting
from cadenza.services.reports.metrics import hits
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Event, Message, ReportCount, Sequence
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write
from tests.integration.report_scenario import mail, send

START = at("2026-12-01T15:00:00Z")
DEFINITION = """
name: {name}
senders: {{email: "sales@acme.example"}}
schedule: {{timezone: UTC, days: every_day, holidays: none}}
enrollment: {{reentry: always}}
exit: {{on: [replied, bounced, unsubscribed]}}
steps:
  - {{key: hello, action: email, subject: "Hello", body: "<p>Hi</p>"}}
  - {{key: later, action: email, wait: {{days: 1}}, subject: "Later", body: "<p>Again</p>"}}
  - {{key: done, action: end, wait: {{days: 1}}, outcome: {outcome}}}
"""
ENGAGEMENT = ("opened", "clicked", "replied", "bounced", "unsubscribed", "sms_opted_out")
_names = itertools.count()

actions = st.lists(
    st.one_of(
        st.tuples(st.just("enroll"), st.integers(0, 3), st.integers(0, 1)),
        st.tuples(st.just("event"), st.integers(0, 3), st.sampled_from(ENGAGEMENT)),
        st.tuples(st.just("remove"), st.integers(0, 3), st.integers(0, 1)),
        st.tuples(st.just("exit"), st.integers(0, 3), st.integers(0, 1)),
        st.tuples(st.just("day"), st.integers(0, 0), st.integers(0, 0)),
        # The worker counting what is new, at any point (the reports count the rest).
        st.tuples(st.just("count"), st.integers(0, 0), st.integers(0, 0)),
    ),
    min_size=4,
    max_size=14,
)


def _expected(db: Database, sequence_ids: list[int]) -> Counter[tuple[Any, ...]]:
    """Each enrollment's first day for each figure, counted from the history left."""
    firsts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    with db.sessions() as session:
        rows = session.execute(
            select(Event).where(Event.sequence_id.in_(sequence_ids)).order_by(Event.id)
        ).scalars()
        for event in rows:
            row = {c: getattr(event, c) for c in ("type", "time", "step", "reason", "actor")}
            row |= {"data": event.data, "enrollment_id": event.enrollment_id}
            row["sequence_id"] = event.sequence_id
            for hit in hits(row):
                key = (event.enrollment_id, hit.metric, hit.step, hit.detail)
                cell = (event.sequence_id, event.time.date(), hit.metric, hit.step, hit.detail)
                if key not in firsts or cell[1] < firsts[key][1]:
                    firsts[key] = cell
    return Counter(firsts.values())


def _counted(db: Database, sequence_ids: list[int]) -> Counter[tuple[Any, ...]]:
    with write(db) as session:  # what a report does before it reads: count what is new
        counting.catch_up(session)
    c = ReportCount
    keys = (c.sequence_id, c.day, c.metric, c.step, c.detail)
    with db.sessions() as session:
        query = select(*keys, func.sum(c.n)).where(c.sequence_id.in_(sequence_ids)).group_by(*keys)
        return Counter({tuple(row[:5]): int(row[5]) for row in session.execute(query) if row[5]})


def _play(db: Database, steps: list[tuple[str, int, Any]]) -> tuple[list[str], list[int]]:
    with mail() as settings:
        return _play_with(db, steps, settings)


def _play_with(
    db: Database, steps: list[tuple[str, int, Any]], settings: Settings
) -> tuple[list[str], list[int]]:
    tag = next(_names)
    names = [f"Seq {tag} A", f"Seq {tag} B"]
    now = START
    with write(db) as session:
        for name, outcome in zip(names, ("positive", "negative"), strict=True):
            store(session, DEFINITION.format(name=name, outcome=outcome), now)
        people = [add_contact(session, now, email=f"p{tag}.{i}@x.example") for i in range(4)]
    for kind, who, what in steps:
        if kind == "day":
            now += timedelta(days=1, hours=1)
            send(db, settings, now)
        elif kind == "count":
            with write(db) as session:
                counting.catch_up(session)
        elif kind == "enroll":
            with write(db) as session:
                enrollments.enroll(
                    session=session, sequence=names[what], contact_ids=[people[who]], now=now,
                    settings=SETTINGS,
                )  # fmt: skip
            send(db, settings, now)
        else:
            _touch(db, kind, people[who], what, now)
    with db.sessions() as session:
        ids = list(session.scalars(select(Sequence.id).where(Sequence.name.in_(names))))
    return names, ids


def _touch(db: Database, kind: str, contact_id: int, what: Any, now: Any) -> None:
    statuses = ("active", "waiting", "paused") if kind == "exit" else ("active", "waiting",
        "paused", "completed", "exited")  # fmt: skip
    with write(db) as session:
        live = session.scalars(
            select(Enrollment.id)
            .where(Enrollment.contact_id == contact_id, Enrollment.status.in_(statuses))
            .order_by(Enrollment.id)
        ).all()
        if kind == "event":
            message = session.scalars(
                select(Message).where(Message.contact_id == contact_id).order_by(Message.id.desc())
            ).first()
            data = {"step": message.step, "enrollment_id": message.enrollment_id} if message else {}
            record_events(
                session=session, events=[Incoming(contact_id, what, data)], now=now,
                settings=SETTINGS,
            )  # fmt: skip
        elif live and kind == "remove":
            enrollments.remove(session=session, enrollment_id=live[what % len(live)], now=now)
        elif live and kind == "exit":
            enrollments.stop(session=session, enrollment_id=live[what % len(live)], now=now)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions)
def test_the_counters_equal_a_count_over_history(db: Database, steps: list[Any]) -> None:
    names, ids = _play(db, steps)
    assert _counted(db, ids) == _expected(db, ids)
    with db.sessions() as session:
        for name, sid in zip(sorted(names), sorted(ids), strict=True):
            report = reports.sequence_report(session=session, name=name)
            enrolled = session.scalar(
                select(func.count(func.distinct(Event.enrollment_id))).where(
                    Event.sequence_id == sid, Event.type == "enrolled"
                )
            )
            assert report["enrolled"] == enrolled
