"""`cadenza bench engine`: enrollment, step and tick figures beside the database's own ceiling."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, store_sequence, synthetic_contacts
from cadenza.clock import FixedClock, SystemClock
from cadenza.engine.worker import Worker
from cadenza.errors import BenchmarkFailed
from cadenza.services import enrollments
from cadenza.settings import Settings
from cadenza.store import copies
from cadenza.store.bulk import ENROLLMENTS, update_enrollments
from cadenza.store.claims import LIVE_ROWS, claim_due
from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact, Enrollment, Event, Sequence, SequenceVersion

T0 = datetime.fromisoformat("2026-12-01T12:00:00+00:00")
NAME = "Bench no-op"
NOOP: dict[str, Any] = {
    "name": NAME,
    "schedule": {"timezone": "UTC", "days": "every_day", "holidays": "none"},
    "steps": [
        {"key": "s1", "action": "branch", "branches": [{"when": {"tag": "x"}, "to": "s3"}]},
        {
            "key": "s2",
            "action": "branch",
            "wait": {"minutes": 1},
            "branches": [{"when": {"tag": "x"}, "to": "s3"}],
        },
        {"key": "s3", "action": "end", "wait": {"minutes": 1}},
    ],
}
GOALS: dict[str, Any] = {
    "enroll": {"postgresql": 20_000, "sqlite": 10_000},
    "steps": 10_000,
    "empty_tick_ms": 1.0,
    "claim_ms": 5.0,
    "p99_s": 1.0,
    "memory_mib": 100,
}


@dataclass
class EngineFigures:
    """What one run measured."""

    backend: str
    contacts: int
    pending: int
    enroll_per_s: float = 0.0
    steps_per_s: float = 0.0
    ceiling_per_s: float = 0.0
    lateness_p50_s: float = 0.0
    lateness_p99_s: float = 0.0
    lateness_rate: float = 0.0
    tick_ms: dict[str, float] = field(default_factory=dict)
    memory_mib: dict[str, float] = field(default_factory=dict)
    # PostgreSQL only: steps/s of 1 and of 4 `cadenza worker` processes, and what they did
    scaling_per_s: dict[int, float] = field(default_factory=dict)
    # cores the whole machine kept busy meanwhile (the workers, the server, the bench's polls)
    scaling_busy: dict[int, float] = field(default_factory=dict)
    cores: int = field(default_factory=lambda: psutil.cpu_count() or 1)
    scaling_executed: int = 0
    scaling_distinct: int = 0


class _Peak:
    """Samples a process's resident memory in the background; the peak in MiB."""

    def __init__(self, pid: int | None = None) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:  # the process ended
                return
            self._stop.wait(0.01)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


def run(
    backend: str,
    contacts: int,
    pending: int,
    pg_url: str | None = None,
    report: Callable[[str], None] = lambda _m: None,
) -> EngineFigures:
    """Measure every figure of DESIGN.md section 7 that concerns the worker."""
    figures = EngineFigures(backend, contacts, pending)
    kwargs = {"pg_url": pg_url} if pg_url else {}
    with fresh_database(backend, "engine", **kwargs) as url, _engine(url) as engine:
        sessions = session_factory(engine)
        report("enrolling")
        _enroll(sessions, contacts, figures)
        report("advancing due steps")
        _advance(sessions, figures)
        report("measuring the database ceiling")
        figures.ceiling_per_s = _ceiling(engine, contacts)
        report("measuring lateness at 80% load")
        _lateness(sessions, figures)
    if backend == "postgresql":
        with fresh_database(backend, "scaling", **kwargs) as url, _engine(url) as engine:
            report("comparing one worker process with four")
            _scaling(session_factory(engine), url, contacts, figures)
    with fresh_database(backend, "ticks", **kwargs) as url, _engine(url) as engine:
        sessions = session_factory(engine)
        report("measuring ticks with nothing pending")
        _ticks(sessions, figures, "0 pending")
        report(f"adding {pending:,} pending enrollments")
        _add_pending(sessions, pending)
        report("measuring ticks with everything pending")
        _ticks(sessions, figures, f"{pending:,} pending")
    return figures


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _sequence(session: Session) -> int:
    return store_sequence(session, NOOP, T0)


def _contacts(session: Session, count: int) -> list[int]:
    return synthetic_contacts(session, count, T0)


def _enroll(sessions: sessionmaker[Session], count: int, figures: EngineFigures) -> None:
    with writing(sessions) as session:
        _sequence(session)
        ids = _contacts(session, count)
    started = time.perf_counter()
    with writing(sessions) as session:
        result = enrollments.enroll(
            session=session,
            sequence=NAME,
            contact_ids=ids,
            now=T0,
            settings=Settings(environment="test"),
        )
    figures.enroll_per_s = len(result.enrolled) / (time.perf_counter() - started)


def _advance(sessions: sessionmaker[Session], figures: EngineFigures) -> None:
    worker = Worker(sessions, FixedClock(T0), Settings(environment="test"), batch_size=500)
    started = time.perf_counter()
    done = worker.drain()
    figures.steps_per_s = done / (time.perf_counter() - started)


def _ceiling(engine: Engine, count: int) -> float:
    """Steps/s of a bare claim-advance-log loop in SQL: what the database allows at most.

    PostgreSQL does the claim (SKIP LOCKED), the advance and the history row in one
    statement per batch; SQLite, in-process, runs the three statements.
    """
    now, due = T0 + timedelta(minutes=1), T0 + timedelta(days=1)
    postgres = engine.dialect.name == "postgresql"
    done, started = 0, time.perf_counter()
    while True:
        with engine.begin() as conn:
            claimed = _pg_batch(conn, now, due) if postgres else _sqlite_batch(conn, now, due)
        if not claimed:
            break
        done += claimed
    return done / (time.perf_counter() - started) if done else 0.0


_PG_BATCH = text(
    "WITH claimed AS (SELECT id FROM enrollments WHERE status IN ('active', 'waiting') "
    "AND due_at <= :now ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED), "
    "advanced AS (UPDATE enrollments AS e SET step = 's3', due_at = :due, updated_at = :now "
    "FROM claimed WHERE e.id = claimed.id RETURNING e.id) "
    "INSERT INTO events (time, type, enrollment_id, step, actor, data) "
    "SELECT :now, 'step_executed', id, 's2', 'bench', '{}' FROM advanced"
)


def _pg_batch(conn: Connection, now: datetime, due: datetime) -> int:
    return int(conn.execute(_PG_BATCH, {"now": now, "due": due}).rowcount)


def _sqlite_batch(conn: Connection, now: datetime, due: datetime) -> int:
    stamp, later = (f"{t.replace(tzinfo=None):%Y-%m-%d %H:%M:%S.%f}" for t in (now, due))
    ids = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT id FROM enrollments WHERE status IN ('active', 'waiting') "
                "AND due_at <= :now ORDER BY due_at LIMIT 500"
            ),
            {"now": stamp},
        )
    ]
    if ids:
        conn.execute(
            text(
                "UPDATE enrollments SET step = 's3', due_at = :due, updated_at = :now "
                "WHERE id = :id"
            ),
            [{"id": i, "due": later, "now": stamp} for i in ids],
        )
        conn.execute(
            text(
                "INSERT INTO events (time, type, enrollment_id, step, actor, data) "
                "VALUES (:now, 'step_executed', :id, 's2', 'bench', '{}')"
            ),
            [{"id": i, "now": stamp} for i in ids],
        )
    return len(ids)


def _lateness(sessions: sessionmaker[Session], figures: EngineFigures) -> None:
    """Due times spread at 80% of the measured rate; how late the live worker runs them."""
    rate = max(100.0, 0.8 * figures.steps_per_s)
    count = int(min(rate * 5, 20_000))
    clock = SystemClock()
    later = T0 + timedelta(days=3650)
    written = time.perf_counter()
    with writing(sessions) as session:
        sequence_id, version_id = session.execute(
            select(SequenceVersion.sequence_id, SequenceVersion.id)
        ).one()
        contact_ids = list(session.scalars(select(Contact.id).limit(count)))
        enrollment_ids = (
            session.execute(
                insert(Enrollment).returning(Enrollment.id, sort_by_parameter_order=True),
                [
                    {
                        "sequence_id": sequence_id,
                        "version_id": version_id,
                        "contact_id": cid,
                        "status": "active",
                        "step": "s1",
                        "due_at": later,
                        "enrolled_at": clock.now(),
                        "updated_at": clock.now(),
                        "state": {"visits": {}},
                    }
                    for cid in contact_ids
                ],
            )
            .scalars()
            .all()
        )
    # The schedule starts once the rows are rescheduled. That update costs about what the
    # insert did, so the insert's time, twice over, plus a second, is the lead allowed.
    written = time.perf_counter() - written
    start = clock.now() + timedelta(seconds=1 + 2 * written)
    due_by_id = {eid: start + timedelta(seconds=i / rate) for i, eid in enumerate(enrollment_ids)}
    with writing(sessions) as session:
        update_enrollments(
            session,
            [
                {
                    "_id": eid,
                    "status": "active",
                    "step": "s1",
                    "due_at": at,
                    "last_step_at": None,
                    "outcome": None,
                    "exit_reason": None,
                    "state": {"visits": {}},
                    "paused_from": None,
                    "paused_by": None,
                    "updated_at": start,
                }
                for eid, at in due_by_id.items()
            ],
        )
    end = max(due_by_id.values()) + timedelta(seconds=2)
    if clock.now() >= start:
        raise BenchmarkFailed("rescheduling the lateness rows took longer than the lead allowed")
    worker = Worker(sessions, clock, Settings(environment="test"), batch_size=500)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 0.005), daemon=True)
    thread.start()
    while clock.now() < end:
        time.sleep(0.1)
    stop.set()
    thread.join()
    with sessions() as session:
        rows = session.execute(
            select(Event.enrollment_id, Event.time).where(
                Event.type == "step_executed",
                Event.step == "s1",
                Event.enrollment_id >= min(due_by_id),
            )
        ).all()
    ran = {eid: when for eid, when in rows if eid in due_by_id}
    stopped = clock.now()  # a step that never ran is at least this late: it counts too
    late = sorted(
        max(0.0, (ran.get(eid, stopped) - due).total_seconds()) for eid, due in due_by_id.items()
    )
    figures.lateness_rate = rate
    if late:
        figures.lateness_p50_s = statistics.median(late)
        figures.lateness_p99_s = late[min(len(late) - 1, int(len(late) * 0.99))]


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    for _ in range(10):
        action()  # warm the caches and the connection pool; these are not measured
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def empty_tick_ms(sessions: sessionmaker[Session], repeat: int = 200) -> float:
    """The median worker tick, in ms, while nothing is due (before `add_due`)."""
    worker = Worker(sessions, FixedClock(T0 - timedelta(days=1)), Settings(environment="test"))
    with worker.holding():  # as in the worker's loop: one connection for its ticks
        return _median_ms(worker.tick, repeat)


def add_due(sessions: sessionmaker[Session], count: int) -> None:
    """`count` enrollments of the no-op sequence (made if need be) due at the ticks' now."""
    with writing(sessions) as session:
        if session.scalar(select(Sequence.id).where(Sequence.name == NAME)) is None:
            _sequence(session)
        _add_rows(session, count, due=T0 - timedelta(days=2))


def claim_ms(sessions: sessionmaker[Session], repeat: int = 50) -> float:
    """The median claim of 100 due rows, in ms, rolled back each time (after `add_due`)."""

    def claim() -> None:
        with sessions() as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            assert len(claim_due(session, T0 - timedelta(days=1), 100)) == 100
            session.rollback()

    return _median_ms(claim, repeat)


def worker_peak_mib(sessions: sessionmaker[Session]) -> float:
    """Peak memory of a `cadenza worker --once` that drains MEMORY_DUE due rows (added here).

    Counted at the ticks' now: rows a previous drain moved on are due a minute after it.
    """
    with sessions() as session:
        due = session.execute(
            select(func.count())
            .select_from(Enrollment)
            .where(LIVE_ROWS, Enrollment.due_at <= T0 - timedelta(days=1))
        ).scalar_one()
    add_due(sessions, MEMORY_DUE - due)
    return _worker_peak(sessions.kw["bind"].url.render_as_string(hide_password=False))


def _ticks(sessions: sessionmaker[Session], figures: EngineFigures, label: str) -> None:
    figures.tick_ms[f"empty tick, {label}"] = empty_tick_ms(sessions)
    add_due(sessions, 100)
    figures.tick_ms[f"claim 100 due, {label}"] = claim_ms(sessions)
    memory = f"`cadenza worker` draining {MEMORY_DUE:,} due, {label}"
    figures.memory_mib[memory] = worker_peak_mib(sessions)


MEMORY_DUE = 10_000
WORKER_APP = "cadenza-bench-worker"


def _worker_process(url: str, now: datetime | None) -> subprocess.Popen[bytes]:
    """A real `cadenza worker` (not sending) on the database at `url`.

    With `now` it drains what is due then and exits (`--once`); without, it runs on the
    system clock until SIGTERM.
    """
    command = [str(Path(sys.executable).with_name("cadenza")), "worker", "--no-send"]
    command += ["--batch", "500"]
    if now is not None:
        command += ["--once", "--now", now.isoformat()]
    env = {**os.environ, "CADENZA_DATABASE_URL": url, "CADENZA_ENVIRONMENT": "test"}
    env["PGAPPNAME"] = WORKER_APP  # libpq names the connection: see _wait_connected
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _scaling(sessions: sessionmaker[Session], url: str, count: int, figures: EngineFigures) -> None:
    """Steps/s of one worker process and of four sharing the work, and whether any step ran twice.

    The workers are started first, running as they would in production; `count` enrollments
    then all come due at once, and the figure is `count` over the time from that moment to
    the last one advanced, so start-up is not counted.
    """
    with writing(sessions) as session:
        _sequence(session)
        _add_rows(session, 2 * count, due=T0 + timedelta(days=3650))
    with sessions() as session:
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
        middle = session.scalars(
            select(Enrollment.id).order_by(Enrollment.id).offset(count - 1).limit(1)
        ).one()
    for workers, half in ((1, Enrollment.id <= middle), (4, Enrollment.id > middle)):
        processes = [_worker_process(url, None) for _ in range(workers)]
        try:
            _wait_connected(sessions, processes)
            due = datetime.now(UTC) + timedelta(seconds=0.5)
            with writing(sessions) as session:
                session.execute(update(Enrollment).where(half).values(due_at=due))
            while datetime.now(UTC) < due:
                time.sleep(0.001)
            busy = _busy_seconds()
            while _any_due(sessions, half, due):
                if any(p.poll() is not None for p in processes):
                    raise BenchmarkFailed("a worker stopped before the work was done")
                time.sleep(0.02)
            elapsed = (datetime.now(UTC) - due).total_seconds()
            figures.scaling_busy[workers] = (_busy_seconds() - busy) / elapsed
            if (advanced := _advanced(sessions, half)) != count:
                raise BenchmarkFailed(f"{advanced:,} of {count:,} enrollments advanced")
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.communicate(timeout=60)
        figures.scaling_per_s[workers] = count / elapsed
    with sessions() as session:
        executed = (Event.type == "step_executed") & (Event.step == "s1")
        figures.scaling_executed = session.execute(
            select(func.count()).select_from(Event).where(executed)
        ).scalar_one()
        figures.scaling_distinct = session.execute(
            select(func.count(func.distinct(Event.enrollment_id))).where(executed)
        ).scalar_one()


def _wait_connected(
    sessions: sessionmaker[Session], processes: list[subprocess.Popen[bytes]]
) -> None:
    """Until every worker process has connected to the database (its start-up is over)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = :name"
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.execute(query, {"name": WORKER_APP}).scalar_one() >= len(processes):
                return
        if any(p.poll() is not None for p in processes):
            raise BenchmarkFailed("a worker stopped while starting")
        time.sleep(0.05)
    raise BenchmarkFailed("the workers did not connect within two minutes")


def _busy_seconds() -> float:
    """CPU seconds the machine has spent on anything but waiting, over all its cores."""
    times = psutil.cpu_times()
    spent = ("user", "nice", "system", "irq", "softirq")  # Linux counts guest time in user
    return sum(getattr(times, name, 0.0) for name in spent)


def _any_due(sessions: sessionmaker[Session], which: Any, due: datetime) -> bool:
    """Whether any of `which` is still due at `due` (not yet advanced, or not committed).

    It reads the due index as the claim does, so a poll costs the server about what an
    empty tick does. Counting the advanced rows instead read all 100,000 rows of the half:
    26 ms a poll, every 20 ms, so half of one of the two cores the workers measured share.
    """
    due_rows = select(Enrollment.id).where(LIVE_ROWS, Enrollment.due_at <= due, which).limit(1)
    with sessions() as session:
        return session.execute(due_rows).first() is not None


def _advanced(sessions: sessionmaker[Session], which: Any) -> int:
    with sessions() as session:
        return session.execute(
            select(func.count()).select_from(Enrollment).where(which, Enrollment.step != "s1")
        ).scalar_one()


def _worker_peak(url: str) -> float:
    """Peak resident memory of a real `cadenza worker --once` process draining what is due."""
    process = _worker_process(url, T0 - timedelta(days=1))
    with _Peak(process.pid) as peak:
        out, errors = process.communicate(timeout=600)
    if process.returncode != 0:
        raise BenchmarkFailed(f"the worker failed: {errors.decode()[-2000:]}")
    if f"advanced {MEMORY_DUE}" not in out.decode():
        raise BenchmarkFailed(f"the worker did not drain what was due: {out.decode()}")
    return peak.mib


def _add_rows(session: Session, count: int, due: datetime) -> None:
    sequence_id, version_id = session.execute(
        select(SequenceVersion.sequence_id, SequenceVersion.id)
        .join(Sequence, Sequence.id == SequenceVersion.sequence_id)
        .where(Sequence.name == NAME)
    ).one()
    contact_ids = _contacts(session, count)
    shared = {
        "sequence_id": sequence_id,
        "version_id": version_id,
        "status": "active",
        "step": "s1",
        "due_at": due,
        "enrolled_at": due,
        "updated_at": due,
        "state": {"visits": {}},
    }
    # In one statement (COPY on PostgreSQL), as a bulk enrollment writes them.
    copies.insert(session, ENROLLMENTS, ("contact_id",), [((c,), shared) for c in contact_ids])


def _add_pending(sessions: sessionmaker[Session], pending: int) -> None:
    """Enrollments due far in the future: the tick must not pay for them."""
    for start in range(0, pending, 50_000):
        with writing(sessions) as session:
            _add_rows(session, min(50_000, pending - start), due=T0 + timedelta(days=365))
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            # A running system checkpoints its WAL as it goes; a million rows written in one
            # burst leave a WAL every read must consult until the next checkpoint.
            session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            session.connection().exec_driver_sql("ANALYZE enrollments")
