"""`cadenza bench reports`: report speed over a large history, and what counting costs.

The data is made in the database itself (INSERT … SELECT over a generated series): 1M
enrollments (half in one sequence) with 10 history rows each, and the counters those rows
make. A report reads only the counters (and the enrollments' status index), so its time
depends on sequences, days and figures, not on the history's size. Recording events is
timed alone and followed by counting them (as the worker does, a window at a time),
alternately, on a sequence with live enrollments: what counting adds to recording.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, store_sequence, synthetic_contacts
from cadenza.clock import parse_instant
from cadenza.engine.runner import COUNTING_WINDOW
from cadenza.services import enrollments, reports
from cadenza.services.events.recording import Incoming, record_events
from cadenza.services.reports import counting
from cadenza.settings import Settings
from cadenza.store import report_marks
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Enrollment, Sequence

GOAL_MS = 200.0
GOAL_OVERHEAD = 0.05
SEQUENCES = 20
ROWS_PER_ENROLLMENT = 10
DAYS = 90
START = parse_instant("2026-09-01T12:00:00Z")
# The ten history rows each made-up enrollment has, in order.
KINDS = (
    ("enrolled", None), ("step_executed", "hello"), ("message_sent", "hello"),
    ("opened", "hello"), ("step_executed", "later"), ("message_sent", "later"),
    ("clicked", "later"), ("replied", "later"), ("step_executed", "done"), ("completed", None),
)  # fmt: skip
STEPS = [
    {"key": "hello", "action": "email", "subject": "Hi", "body": "<p>Hi</p>"},
    {"key": "later", "action": "email", "subject": "Again", "body": "<p>Again</p>"},
    {"key": "done", "action": "end", "outcome": "positive"},
]


@dataclass
class Figures:
    enrollments: int
    history_rows: int
    counter_rows: int
    build_s: float
    report_ms: float
    compare_ms: float
    record_before_us: float
    record_after_us: float
    # The median of each round's on/off ratio (rounds side by side see the same machine load).
    paired_overhead: float | None = None

    @property
    def overhead(self) -> float:
        if self.paired_overhead is not None:
            return self.paired_overhead
        return self.record_after_us / self.record_before_us - 1


def run(backend: str, scale: float, pg_url: str | None, report: Callable[[str], None]) -> Figures:
    """Build the data, time the reports and the recording of events."""
    total = max(1000, int(1_000_000 * scale))
    with fresh_database(backend, "reports", *([pg_url] if pg_url else [])) as url:
        engine = make_engine(url)
        try:
            began = time.perf_counter()
            counter_rows = _build(engine, total, report)
            built = time.perf_counter() - began
            report("timing the reports")
            one, ten = _time_reports(engine)
            report("timing event recording, counting off and on")
            before, after, paired = _time_recording(engine, max(200, min(1000, total // 100)))
        finally:
            engine.dispose()
    return Figures(
        total, total * ROWS_PER_ENROLLMENT, counter_rows, built, one, ten, before, after, paired
    )


def _build(engine: Engine, total: int, report: Callable[[str], None]) -> int:
    sessions = session_factory(engine)
    with writing(sessions) as session:
        source = {"name": "", "senders": {"email": "sales@bench.example"}, "steps": STEPS}
        for n in range(SEQUENCES):
            store_sequence(session, {**source, "name": f"Bench {n:02d}"}, START)
    contacts = max(100, total // 10)
    report(f"{contacts:,} contacts")
    with writing(sessions) as session:
        synthetic_contacts(session, contacts, START)
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        report(f"{total:,} enrollments, half in one sequence")
        conn.execute(text(_enrollments_sql(pg)), {"n": total, "c": contacts, "s": SEQUENCES})
        if pg:  # ids were given: the id sequence moves past them for the enrollments to come
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('enrollments', 'id'), :n)"),
                {"n": total},
            )
        report(f"{total * ROWS_PER_ENROLLMENT:,} history rows")
        conn.execute(text(_events_sql(pg)), {"start": START})
        report("the counters those rows make")
        conn.execute(text(_counters_sql(pg)))
        conn.execute(text("UPDATE report_marks SET mark = (SELECT max(id) FROM events)"))
        rows = conn.execute(text("SELECT count(*) FROM report_counts")).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))
    return int(rows)


def _enrollments_sql(pg: bool) -> str:
    series = (
        "generate_series(0, :n - 1) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < :n - 1)"
        " SELECT i FROM g) AS g"
    )
    seq = "(CASE WHEN i % 2 = 0 THEN 1 ELSE 2 + (i / 2) % (:s - 1) END)"
    status = "(CASE i % 5 WHEN 0 THEN 'active' WHEN 1 THEN 'waiting' WHEN 2 THEN 'paused'"
    status += " WHEN 3 THEN 'completed' ELSE 'exited' END)"
    now = "now()" if pg else "'2026-09-01 12:00:00.000000'"
    state = "'{}'::jsonb" if pg else "'{}'"
    return (
        "INSERT INTO enrollments (id, sequence_id, version_id, contact_id, status, step,"
        " enrolled_at, updated_at, state)"
        f" SELECT i + 1, {seq}, v.id, i % :c + 1, {status}, 'later', {now}, {now}, {state}"
        f" FROM {series} JOIN sequence_versions v ON v.sequence_id = {seq}"
    )


def _events_sql(pg: bool) -> str:
    kinds = " UNION ALL ".join(
        f"SELECT {k} AS k, '{kind}' AS type, {repr(step) if step else 'NULL'} AS step"
        for k, (kind, step) in enumerate(KINDS)
    )
    if pg:
        when = "CAST(:start AS timestamptz) + (e.id % 90) * interval '1 day'"
        when += " + k.k * interval '1 minute'"
        data = "'{}'::jsonb"
    else:
        when = "strftime('%Y-%m-%d %H:%M:%f000', :start, (e.id % 90) || ' days',"
        when += " k.k || ' minutes')"
        data = "'{}'"
    return (
        "INSERT INTO events (time, type, contact_id, sequence_id, enrollment_id, step, actor,"
        f" reason, data) SELECT {when}, k.type, e.contact_id, e.sequence_id, e.id, k.step,"
        f" 'system', NULL, {data} FROM enrollments e CROSS JOIN ({kinds}) AS k"
    )


def _counters_sql(pg: bool) -> str:
    metric = (
        "CASE e.type WHEN 'message_sent' THEN 'sent' WHEN 'step_executed' THEN 'ran'"
        " ELSE e.type END"
    )
    day = "CAST(e.time AS date)" if pg else "date(e.time)"
    whole = "CASE WHEN e.type IN ('enrolled', 'completed') THEN '*' ELSE e.step END"
    return (
        "INSERT INTO report_counts (sequence_id, day, metric, step, detail, variant, who,"
        " version_id, shard, n)"
        f" SELECT e.sequence_id, {day}, {metric}, {whole}, '', '', '', n.version_id,"
        " e.enrollment_id % 4, count(*)"
        " FROM events e JOIN enrollments n ON n.id = e.enrollment_id"
        f" GROUP BY e.sequence_id, {day}, {metric}, {whole}, n.version_id, e.enrollment_id % 4"
    )


def _median_ms(action: Callable[[], object], rounds: int = 7) -> float:
    action()  # warm the caches, as a server would be
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _time_reports(engine: Engine) -> tuple[float, float]:
    sessions = session_factory(engine)
    names = [f"Bench {n:02d}" for n in range(10)]
    with sessions() as session:
        one = _median_ms(lambda: reports.sequence_report(session=session, name=names[0]))
        ten = _median_ms(lambda: reports.compare(session=session, names=names))
    return one, ten


BATCH = 100  # events recorded per transaction


def _count(sessions: sessionmaker[Session]) -> None:
    """Count what was recorded, as the worker does: a window of events per transaction."""
    while True:
        with writing(sessions) as session:
            window = COUNTING_WINDOW[session.get_bind().dialect.name]
            counting.catch_up(session, complete=False, limit=window)
            if not report_marks.behind(session):
                return


def _time_recording(
    engine: Engine, contacts: int = 1000, rounds: int = 10
) -> tuple[float, float, float]:
    """Microseconds per recorded `opened` event, alone and then counted (alternating rounds,
    the order flipped every other pair), and the median of the pairs' ratios less one."""
    sessions = session_factory(engine)
    settings = Settings(environment="test")
    source = {"name": "Recording", "senders": {"email": "s@bench.example"}, "steps": STEPS}
    source["steps"] = [{**STEPS[0], "wait": {"days": 30}}, *STEPS[1:]]
    with writing(sessions) as session:
        store_sequence(session, source, START)
        people = synthetic_contacts(session, contacts, START)
        enrollments.enroll(
            session=session, sequence="Recording", contact_ids=people, now=START,
            settings=settings,
        )  # fmt: skip
        sid = session.scalar(select(Sequence.id).where(Sequence.name == "Recording"))
        query = select(Enrollment.contact_id, Enrollment.id).where(Enrollment.sequence_id == sid)
        ids = {int(row[0]): int(row[1]) for row in session.execute(query)}
    _count(sessions)  # the enrollments' own history
    spent: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(rounds * 2):
        counted = (round_ % 2 == 1) != (round_ % 4 >= 2)  # off-on, on-off, off-on...
        now = START + timedelta(hours=round_ + 1)
        # A step of its own each round: every counted event is a first, the dearest case.
        data = {"step": f"hello{round_}"}
        events = [Incoming(c, "opened", {**data, "enrollment_id": ids[c]}) for c in people]
        began = time.perf_counter()
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            with writing(sessions) as session:
                record_events(session=session, events=batch, now=now, settings=settings)
        if counted:
            _count(sessions)
        spent[counted].append((time.perf_counter() - began) / len(events) * 1e6)
        _count(sessions)  # a round "off" leaves its events for the worker: not the next round's
    ratios = [on / off for off, on in zip(spent[False], spent[True], strict=True)]
    return (
        statistics.median(spent[False]),
        statistics.median(spent[True]),
        statistics.median(ratios) - 1,
    )
