"""`cadenza bench audiences`: re-evaluating a view-based audience over many contacts.

The contacts are made in the database itself (INSERT … SELECT over a generated series), one
in a hundred tagged `webinar`; a view shows the tagged ones and an active sequence takes
that view as its audience. The first evaluation reads every contact (timed, for reference,
beside a plain count of the contacts table); then, each round, `--matches` contacts gain the
tag (and as many others change without matching) and the next evaluation is timed, and
checked to enroll exactly those; an evaluation after no change is timed too.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, store_sequence
from cadenza.clock import parse_instant
from cadenza.core.access import Person
from cadenza.errors import BenchmarkFailed
from cadenza.services import audiences
from cadenza.services.audiences import Evaluation
from cadenza.services.events import changes
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact, Sequence

GOAL_CHANGED_MS = 1000.0
GOAL_UNCHANGED_MS = 50.0
START = parse_instant("2026-09-01T12:00:00Z")
EVERY = 100  # one contact in EVERY is tagged at the start
SOURCE = {
    "name": "Webinar audience",
    "senders": {"email": "sales@bench.example"},
    "enrollment": {"audience": {"view": "Webinar"}, "every": {"minutes": 15}},
    "steps": [
        {"key": "hello", "action": "email", "wait": {"days": 1}, "subject": "Hi", "body": "Hi"}
    ],
}


@dataclass
class Figures:
    contacts: int
    matches: int
    build_s: float
    first_ms: float
    first_enrolled: int
    count_ms: float  # reference: one count(*) over the contacts table
    changed_ms: list[float] = field(default_factory=list)
    unchanged_ms: list[float] = field(default_factory=list)
    enrolled: list[int] = field(default_factory=list)

    @property
    def changed_best_ms(self) -> float:
        return min(self.changed_ms)

    @property
    def unchanged_best_ms(self) -> float:
        return min(self.unchanged_ms)


def run(
    backend: str,
    contacts: int,
    matches: int,
    rounds: int,
    pg_url: str | None,
    report: Callable[[str], None],
) -> Figures:
    """Build the contacts, evaluate once in full, then time changed and unchanged rounds."""
    with fresh_database(backend, "audiences", *([pg_url] if pg_url else [])) as url:
        engine = make_engine(url)
        try:
            return _run(engine, contacts, matches, rounds, report)
        finally:
            engine.dispose()


def _run(
    engine: Engine, contacts: int, matches: int, rounds: int, report: Callable[[str], None]
) -> Figures:
    sessions = session_factory(engine)
    report(f"{contacts:,} contacts, one in {EVERY} tagged")
    began = time.perf_counter()
    _build(engine, sessions, contacts)
    built = time.perf_counter() - began
    report("the first evaluation (every contact)")
    now = START + timedelta(minutes=1)
    first, first_ms = _evaluate(sessions, now)
    with sessions() as session:
        count_ms = _ms(lambda: session.scalar(select(func.count()).select_from(Contact)))
    figures = Figures(contacts, matches, built, first_ms, len(first.enrolled), count_ms)
    chooser = random.Random(7)
    untagged = [i for i in range(1, contacts + 1) if i % EVERY]
    chooser.shuffle(untagged)
    for number in range(rounds):
        now += timedelta(minutes=1)
        chosen = untagged[2 * number * matches : (2 * number + 1) * matches]
        others = untagged[(2 * number + 1) * matches : (2 * number + 2) * matches]
        _change(engine, chosen, others, now)
        report(f"round {number + 1}: {len(chosen):,} new matches, {len(others):,} other changes")
        result, took = _evaluate(sessions, now + timedelta(seconds=1))
        if sorted(result.enrolled) != sorted(chosen):
            raise BenchmarkFailed(
                f"round {number + 1} enrolled {len(result.enrolled):,} contacts, not the "
                f"{len(chosen):,} new matches"
            )
        figures.changed_ms.append(took)
        figures.enrolled.append(len(result.enrolled))
        unchanged, took = _evaluate(sessions, now + timedelta(seconds=2))
        if unchanged.enrolled or unchanged.examined:
            raise BenchmarkFailed("an evaluation after no change examined or enrolled contacts")
        figures.unchanged_ms.append(took)
    return figures


def _build(engine: Engine, sessions: sessionmaker[Session], contacts: int) -> None:
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(text(_contacts_sql(pg)), {"n": contacts})
        if pg:  # ids were given: the id sequence moves past them for contacts to come
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"), {"n": contacts}
            )
        conn.execute(
            text(f"INSERT INTO contact_tags (contact_id, tag) SELECT id, 'webinar' FROM contacts"
                 f" WHERE id % {EVERY} = 0")
        )  # fmt: skip
    with writing(sessions) as session:
        store_sequence(session, SOURCE, START)
        admin = Viewer(Person(None, "admin"), "bench")
        audiences.create_view(
            session=session, viewer=admin, name="Webinar", condition={"tag": "webinar"},
            sharing="everyone", now=START,
        )  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))


def _contacts_sql(pg: bool) -> str:
    series = (
        "generate_series(1, :n) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)"
        " SELECT i FROM g) AS g"
    )
    when = "CAST('2026-09-01 12:00:00+00' AS timestamptz)" if pg else "'2026-09-01 12:00:00.000000'"
    empty = "'{}'::jsonb" if pg else "'{}'"
    return (
        "INSERT INTO contacts (id, first_name, last_name, email, timezone, fields, dnc,"
        " sms_opted_out, email_unsubscribed, email_bounced, created_at, updated_at)"
        f" SELECT i, 'Pat' || i, 'Bench', 'pat' || i || '@bench.example', 'UTC', {empty},"
        f" false, false, false, false, {when}, {when} FROM {series}"
    )


def _change(engine: Engine, chosen: list[int], others: list[int], now: datetime) -> None:
    """The chosen contacts gain the tag, the others a field; all of them changed at `now`."""
    sessions = session_factory(engine)
    with writing(sessions) as session:
        batch = [changes.Change(i, "add_tag", {"tag": "webinar"}) for i in chosen]
        batch += [changes.Change(i, "set_field", {"field": "score", "value": 1}) for i in others]
        changes.apply(session, batch, now)


SETTINGS = Settings(environment="test")  # made once: reading the environment takes ~15 ms


def _evaluate(sessions: sessionmaker[Session], now: datetime) -> tuple[Evaluation, float]:
    """One evaluation of the audience, in its own transaction, and how long it took (ms)."""
    settings = SETTINGS
    began = time.perf_counter()
    with writing(sessions) as session:
        sequence = session.scalars(select(Sequence)).one()
        _, definition = audiences.evaluating.sequence_definition(
            session=session, name=sequence.name
        )
        result = audiences.evaluate(
            session=session, sequence=sequence, definition=definition, now=now, settings=settings
        )
    return result, (time.perf_counter() - began) * 1000


def _ms(action: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)
