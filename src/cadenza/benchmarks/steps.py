"""`cadenza bench steps`: steps that do real work, per kind of action, beside no-op steps.

Each kind runs in a three-step sequence of its own (a call task blocks, so it runs one step),
over fresh contacts enrolled due now, drained by one worker: contact changes (tags, a field, a
disposition, a round-robin owner), message steps (a tracked email, a text, a webhook to a
receiver on loopback: the worker's part, rendering and queueing; sending email is
`bench email`), a call task, a branch on a tag, a tag that hands the contact to a second
sequence by its trigger, and a realistic mix of all of them. The webhooks are then delivered
too, by the dispatcher, to that receiver (its own process), and counted as it received them.
Then events in: a burst of opens and replies recorded in batches, as the tracking pixel and
the inbound hooks deliver them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, store_sequence, synthetic_contacts
from cadenza.benchmarks.engine import NOOP, T0, _ceiling, _engine
from cadenza.benchmarks.receiver import Receiver
from cadenza.clock import FixedClock
from cadenza.engine.runner import ReportCounting
from cadenza.engine.worker import Worker
from cadenza.services import enrollments, events, users
from cadenza.settings import Settings
from cadenza.store.db import session_factory, writing
from cadenza.store.models import Contact, Event, Message, Sequence

GOALS = {"ratio": 0.5, "mix": 5_000, "opens": 5_000, "replies": 2_000}
SCHEDULE = {"timezone": "UTC", "days": "every_day", "holidays": "none"}
SENDERS = {"email": "sales@bench.example", "sms": "+13125550100"}
TEAM = ("ana@bench.example", "ben@bench.example", "cara@bench.example")
HOOK = "http://127.0.0.1:9/bench"  # replaced by the loopback receiver's address at run time
EVENT_BATCH = 500


def _three(make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"key": f"s{i}", **make(i)} for i in (1, 2, 3)]


def _noop(_i: int) -> dict[str, Any]:
    return {"action": "branch", "branches": [{"when": {"tag": "never"}, "to": "s3"}]}


KINDS: dict[str, list[dict[str, Any]]] = {
    "no-op (branch, no match)": _three(_noop),
    "add_tag": _three(lambda i: {"action": "add_tag", "tag": f"bench-{i}"}),
    "set_field": _three(lambda i: {"action": "set_field", "field": f"f{i}", "value": i}),
    "set_disposition": _three(lambda i: {"action": "set_disposition", "disposition": f"d{i}"}),
    "set_owner (round robin)": _three(
        lambda _i: {"action": "set_owner", "owner": "round_robin:bench-team"}
    ),
    "email (tracked)": _three(
        lambda i: {
            "action": "email",
            "subject": f"Note {i} for {{{{ contact.first_name }}}}",
            "body": '<p>Hi {{ contact.first_name }}, <a href="https://acme.example/">look</a></p>',
            "track": {"opens": True, "clicks": True},
        }
    ),
    "sms": _three(lambda i: {"action": "sms", "body": f"Hi {{{{ contact.first_name }}}} ({i})"}),
    "webhook": _three(lambda _i: {"action": "webhook", "url": HOOK}),
    "branch on a tag": _three(
        lambda _i: {"action": "branch", "branches": [{"when": {"tag": "vip"}, "to": "s3"}]}
    ),
    "tag handing over to another sequence": [
        {"key": "s1", "action": "add_tag", "tag": "handoff"},
        {"key": "s2", **_noop(2)},
        {"key": "s3", **_noop(3)},
    ],
    "call task": [{"key": "s1", "action": "call", "assignee": "round_robin:bench-team"}],
}
MIX = [
    {"key": "tag", "action": "add_tag", "tag": "engaged"},
    {"key": "field", "action": "set_field", "field": "stage", "value": "contacted"},
    {**KINDS["email (tracked)"][0], "key": "email"},
    {**KINDS["sms"][0], "key": "sms"},
    {"key": "branch", "action": "branch", "branches": [{"when": {"tag": "vip"}, "to": "call"}]},
    {"key": "owner", "action": "set_owner", "owner": "round_robin:bench-team"},
    {"key": "hook", "action": "webhook", "url": HOOK},
    {"key": "disposition", "action": "set_disposition", "disposition": "working"},
    {"key": "call", "action": "call", "assignee": "contact_owner"},
]
SECOND = {
    "name": "Bench second",
    "schedule": SCHEDULE,
    "enrollment": {"triggers": [{"on": "tag_added", "tag": "handoff"}]},
    "steps": [{"key": "later", "action": "end", "wait": {"days": 3}}],
}
REPLIES = {
    "name": "Bench replies",
    "schedule": SCHEDULE,
    "senders": SENDERS,
    "steps": [
        {**KINDS["email (tracked)"][0], "key": "hello"},
        {"key": "wait", "action": "wait_for", "events": ["clicked"], "timeout": {"days": 3}},
        {**KINDS["email (tracked)"][1], "key": "later"},
    ],
}


@dataclass
class StepsFigures:
    """What one run measured: steps/s per kind, the no-op figure, the ceiling, events/s."""

    backend: str
    contacts: int
    steps_per_s: dict[str, float] = field(default_factory=dict)
    steps_run: dict[str, int] = field(default_factory=dict)
    mix_per_s: float = 0.0
    ceiling_per_s: float = 0.0
    opens: int = 0
    opens_per_s: float = 0.0
    replies: int = 0
    replies_per_s: float = 0.0
    replies_exited: int = 0
    webhooks_queued: int = 0
    webhooks_delivered: int = 0  # as counted by the receiver
    deliveries_per_s: float = 0.0

    @property
    def noop_per_s(self) -> float:
        return self.steps_per_s.get("no-op (branch, no match)", 0.0)


def run(
    backend: str,
    contacts: int,
    opens: int,
    replies: int,
    pg_url: str | None = None,
    report: Callable[[str], None] = lambda _m: None,
    rounds: int = 1,
) -> StepsFigures:
    """Measure steps/s per kind of action, the mix, the ceiling and events in.

    With several `rounds`, every kind (the no-op one included) runs once per round, the
    rounds one after the other, and its best round counts: on a machine others share,
    each kind and the no-op reference then meet the same spells of load.
    """
    figures = StepsFigures(backend, contacts)
    kwargs = {"pg_url": pg_url} if pg_url else {}
    settings = Settings(environment="test", webhook_allow=["127.0.0.1"])
    with Receiver() as receiver:
        with fresh_database(backend, "steps", **kwargs) as url, _engine(url) as engine:
            sessions = session_factory(engine)
            _people(sessions)
            _store(sessions, SECOND)
            for turn in range(rounds):
                for kind, steps in [*KINDS.items(), ("realistic mix", MIX)]:
                    report(f"running {kind} steps" + (f", round {turn + 1}" if rounds > 1 else ""))
                    name = f"Bench {kind}" + (f" {turn + 1}" if turn else "")
                    steps = _aimed(steps, receiver.url)
                    rate, done = _measure(sessions, settings, name, steps, contacts)
                    if rate > figures.steps_per_s.get(kind, 0.0):
                        figures.steps_per_s[kind], figures.steps_run[kind] = rate, done
            figures.mix_per_s = figures.steps_per_s.pop("realistic mix")
            report("measuring events in")
            _events_in(sessions, settings, opens, replies, figures)
        with fresh_database(backend, "steps-hooks", **kwargs) as url, _engine(url) as engine:
            report("delivering webhooks to the loopback receiver")
            _deliver(session_factory(engine), settings, receiver, contacts, figures)
    with fresh_database(backend, "steps-ceiling", **kwargs) as url, _engine(url) as engine:
        report("measuring the database ceiling")
        sessions = session_factory(engine)
        _store(sessions, {**NOOP, "name": "Bench ceiling"})
        _enroll(sessions, settings, "Bench ceiling", contacts)
        figures.ceiling_per_s = _ceiling(engine, contacts)
    return figures


def _aimed(steps: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """The steps with their webhooks aimed at the receiver."""
    return [{**step, "url": url} if step["action"] == "webhook" else step for step in steps]


def _deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
    count: int,
    figures: StepsFigures,
) -> None:
    """The webhook kind's steps run, then their webhooks sent by the dispatcher: deliveries/s
    and how many the receiver got (in a database of their own: only webhooks are queued)."""
    from cadenza.engine.dispatcher import Dispatcher  # the channels: only this part sends

    name = "Bench webhook deliveries"
    steps = _aimed(KINDS["webhook"], receiver.url)
    _store(sessions, {"name": name, "schedule": SCHEDULE, "senders": SENDERS, "steps": steps})
    _enroll(sessions, settings, name, count)
    Worker(sessions, FixedClock(T0), settings, batch_size=500).drain()
    with sessions() as session:
        figures.webhooks_queued = int(
            session.execute(select(func.count()).where(Message.channel == "webhook")).scalar_one()
        )
    before = receiver.count()
    dispatcher = Dispatcher(sessions, FixedClock(T0), settings)
    started = time.perf_counter()
    try:
        sent = dispatcher.drain()
    finally:
        dispatcher.close()
    figures.deliveries_per_s = sent / (time.perf_counter() - started)
    figures.webhooks_delivered = receiver.count() - before


def _people(sessions: sessionmaker[Session]) -> None:
    with writing(sessions) as session:
        for email in TEAM:
            users.add_user(session=session, email=email, name=email.split("@")[0], now=T0)
        users.add_group(session=session, name="bench-team", member_emails=list(TEAM))


def _store(sessions: sessionmaker[Session], source: dict[str, Any]) -> None:
    with writing(sessions) as session:
        store_sequence(session, source, T0)


def _enroll(
    sessions: sessionmaker[Session], settings: Settings, name: str, count: int
) -> list[int]:
    with writing(sessions) as session:
        ids = synthetic_contacts(session, count, T0)
        phones = [{"_id": cid, "phone": f"+1312{2_000_000 + cid % 8_000_000:07d}"} for cid in ids]
        session.connection().execute(
            update(Contact).where(Contact.id == bindparam("_id")).values(phone=bindparam("phone")),
            phones,
        )
        enrollments.enroll(
            session=session, sequence=name, contact_ids=ids, now=T0, settings=settings
        )
    return ids


def _measure(
    sessions: sessionmaker[Session],
    settings: Settings,
    name: str,
    steps: list[dict[str, Any]],
    count: int,
) -> tuple[float, int]:
    """Steps/s of one worker draining `count` fresh enrollments of a sequence of `steps`."""
    _store(sessions, {"name": name, "schedule": SCHEDULE, "senders": SENDERS, "steps": steps})
    _enroll(sessions, settings, name, count)
    worker = Worker(sessions, FixedClock(T0), settings, batch_size=500)
    counted = ReportCounting(sessions)
    counted.finish()  # the enrollments' own history: not the steps'
    started = time.perf_counter()
    worker.drain()
    counted.finish()  # the reports count what the steps wrote, as the worker does after them
    elapsed = time.perf_counter() - started
    done = _executed(sessions, name)
    return done / elapsed, done


def _executed(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        query = (
            select(func.count())
            .select_from(Event)
            .join(Sequence, Sequence.id == Event.sequence_id)
            .where(Sequence.name == name, Event.type.in_(("step_executed", "task_created")))
        )
        return int(session.execute(query).scalar_one())


def _events_in(
    sessions: sessionmaker[Session],
    settings: Settings,
    opens: int,
    replies: int,
    figures: StepsFigures,
) -> None:
    """A burst of opens, then of replies, for contacts waiting in a sequence."""
    _store(sessions, REPLIES)
    ids = _enroll(sessions, settings, "Bench replies", replies)
    Worker(sessions, FixedClock(T0), settings, batch_size=500).drain()
    now = T0 + timedelta(minutes=5)
    burst = [events.Incoming(ids[i % len(ids)], "opened", {"step": "hello"}) for i in range(opens)]
    figures.opens, figures.opens_per_s = opens, _record(sessions, settings, burst, now)
    burst = [events.Incoming(cid, "replied", {"step": "hello"}) for cid in ids]
    figures.replies, figures.replies_per_s = len(burst), _record(sessions, settings, burst, now)
    with sessions() as session:
        figures.replies_exited = int(
            session.execute(
                select(func.count())
                .select_from(Event)
                .where(Event.type == "exited", Event.time == now)
            ).scalar_one()
        )


def _record(
    sessions: sessionmaker[Session],
    settings: Settings,
    burst: list[events.Incoming],
    now: datetime,
) -> float:
    counted = ReportCounting(sessions)
    counted.finish()
    started = time.perf_counter()
    for start in range(0, len(burst), EVENT_BATCH):
        with writing(sessions) as session:
            events.record_events(
                session=session,
                events=burst[start : start + EVENT_BATCH],
                now=now,
                settings=settings,
                actor="bench",
            )
    counted.finish()  # and counted for the reports
    return len(burst) / (time.perf_counter() - started)
