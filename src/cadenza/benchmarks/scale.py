"""`cadenza bench engine --scale-pending`: the tick, the claim and the worker's memory as the
enrollments due later grow from thousands to millions.

Each count gets a fresh database. The pending enrollments are written by the database itself
(INSERT … SELECT over a series), a million per statement, so ten million take minutes, not
the hour a client-side insert would. They are spread as a real backlog is: due at minutes
scattered over the next year, each contact in ten sequences, so that the planner sees a
realistic number of enrollments per contact and per sequence.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from cadenza.benchmarks.databases import fresh_database, store_sequence
from cadenza.benchmarks.engine import (
    NOOP,
    T0,
    _engine,
    add_due,
    claim_ms,
    empty_tick_ms,
    worker_peak_mib,
)
from cadenza.errors import BenchmarkFailed
from cadenza.store.bulk import sqlite_time
from cadenza.store.db import session_factory, writing
from cadenza.store.models import SequenceVersion

SEQUENCES = 10  # the pending enrollments' sequences; each pending contact is in all of them
CHUNK = 1_000_000  # enrollments per statement (a multiple of SEQUENCES)
SPREAD_MINUTES = 525_600  # a year: pending rows fall due over it, in a scattered order
STRIDE = 7919  # a prime prime to SPREAD_MINUTES: row i is due at minute i * STRIDE mod a year
GOAL_RATIO = 2.0  # the tick and the claim at the largest count against the smallest
MEMORY_RATIO = 1.1  # "flat": the worker's peak within 10% of the smallest count's
ROUNDS = 7


@dataclass
class ScaleRow:
    """What one pending count measured."""

    pending: int
    build_s: float
    empty_tick_ms: float
    claim_ms: float
    memory_mib: float


@dataclass
class ScaleFigures:
    """One row per pending count, the smallest first: the reference of the others."""

    backend: str
    rows: list[ScaleRow] = field(default_factory=list)

    def ratios(self, row: ScaleRow) -> dict[str, float]:
        """`row`'s figures over those of the smallest count."""
        base = self.rows[0]
        return {
            "empty_tick": row.empty_tick_ms / base.empty_tick_ms,
            "claim": row.claim_ms / base.claim_ms,
            "memory": row.memory_mib / base.memory_mib,
        }


def run(
    backend: str,
    counts: Sequence[int],
    pg_url: str | None = None,
    report: Callable[[str], None] = lambda _m: None,
    rounds: int = ROUNDS,
) -> ScaleFigures:
    """Measure the tick, the claim and the worker's memory at each count of pending rows.

    Every database is built first; then each figure is taken in turns, one database after
    the other, `rounds` times, and each database keeps its median round. On a shared machine
    the load changes by the minute: taken in turns, every count sees the same load.
    """
    kwargs = {"pg_url": pg_url} if pg_url else {}
    counts = sorted(set(counts))
    built: list[tuple[int, float, sessionmaker[Session]]] = []
    with ExitStack() as stack:
        for pending in counts:
            url = stack.enter_context(fresh_database(backend, f"scale_{pending}", **kwargs))
            engine = stack.enter_context(_engine(url))
            sessions = session_factory(engine)
            started = time.perf_counter()
            _build(engine, sessions, pending, report)
            built.append((pending, time.perf_counter() - started, sessions))
        report(f"measuring empty ticks, {rounds} rounds")
        ticks = _in_turns([s for _p, _b, s in built], empty_tick_ms, rounds)
        for _p, _b, sessions in built:
            add_due(sessions, 100)
        report(f"measuring claims of 100 due rows, {rounds} rounds")
        claims = _in_turns([s for _p, _b, s in built], claim_ms, rounds)
        figures = ScaleFigures(backend)
        for (pending, build_s, sessions), tick, claim in zip(built, ticks, claims, strict=True):
            report(f"measuring the worker's memory at {pending:,} pending")
            memory = worker_peak_mib(sessions)
            figures.rows.append(ScaleRow(pending, build_s, tick, claim, memory))
    return figures


def _in_turns(
    places: list[sessionmaker[Session]],
    measure: Callable[[sessionmaker[Session]], float],
    rounds: int,
) -> list[float]:
    """Each place's median of `rounds` measurements taken in turns."""
    samples: list[list[float]] = [[] for _ in places]
    for _ in range(rounds):
        for place, taken in zip(places, samples, strict=True):
            taken.append(measure(place))
    return [statistics.median(taken) for taken in samples]


def _build(
    engine: Engine, sessions: sessionmaker[Session], pending: int, report: Callable[[str], None]
) -> None:
    with writing(sessions) as session:
        store_sequence(session, NOOP, T0)
        ids = [
            store_sequence(session, {**NOOP, "name": f"Bench pending {n + 1}"}, T0)
            for n in range(SEQUENCES)
        ]
        versions = dict(
            session.execute(
                select(SequenceVersion.sequence_id, SequenceVersion.id)
                .where(SequenceVersion.sequence_id.in_(ids))
                .order_by(SequenceVersion.sequence_id)
            ).all()
        )
    for done in range(0, pending, CHUNK):
        size = min(CHUNK, pending - done)
        report(f"adding pending enrollments {done + 1:,} to {done + size:,} of {pending:,}")
        with engine.begin() as conn:
            _add_pending(conn, versions, done, size)
    with engine.connect() as conn:
        later = conn.execute(
            text("SELECT count(*) FROM enrollments WHERE due_at > :now"),
            {"now": _time(T0, engine.dialect.name == "postgresql")},
        ).scalar_one()
    if later != pending:
        raise BenchmarkFailed(f"{later:,} enrollments pending, not {pending:,}")
    report("vacuuming and analysing, as autovacuum would after such a load")
    _settle(engine)


def _add_pending(conn: Connection, versions: dict[int, int], first: int, size: int) -> None:
    """Enrollments `first` to `first + size - 1`, and their contacts (one per SEQUENCES)."""
    postgres = conn.dialect.name == "postgresql"
    contacts = -(-size // SEQUENCES)
    first_contact = _add_contacts(conn, first // SEQUENCES, contacts)
    # Sequence and version by the row's number: ten literal cases, no join to plan.
    sequence_of = " ".join(f"WHEN {k} THEN {s}" for k, s in enumerate(versions))
    version_of = " ".join(f"WHEN {k} THEN {v}" for k, v in enumerate(versions.values()))
    if postgres:
        due = "CAST(:base AS timestamptz) + ((s.i * :stride) % :spread) * interval '1 minute'"
    else:  # SQLAlchemy's text form of a UTC time, microseconds included
        due = (
            "strftime('%Y-%m-%d %H:%M:%S', :base, '+' || ((s.i * :stride) % :spread) "
            "|| ' minutes') || '.000000'"
        )
    prefix, series = _series(postgres)
    conn.execute(
        text(
            f"{prefix} INSERT INTO enrollments (sequence_id, version_id, contact_id, status, "
            "step, due_at, enrolled_at, updated_at, state) "
            f"SELECT CASE s.i % {SEQUENCES} {sequence_of} END, "
            f"CASE s.i % {SEQUENCES} {version_of} END, "
            f":contact + (s.i - :first) / {SEQUENCES}, 'active', 's1', {due}, :now, :now, "
            """'{"visits": {}}' """
            f"FROM {series} ORDER BY s.i"
        ),
        {
            "first": first,
            "last": first + size - 1,
            "contact": first_contact,
            "base": _time(T0 + timedelta(days=1), postgres),
            "now": _time(T0, postgres),
            "stride": STRIDE,
            "spread": SPREAD_MINUTES,
        },
    )


def _add_contacts(conn: Connection, first: int, count: int) -> int:
    """`count` contacts numbered from `first`; the id of the first (their ids follow on)."""
    postgres = conn.dialect.name == "postgresql"
    before = conn.execute(text("SELECT coalesce(max(id), 0) FROM contacts")).scalar_one()
    prefix, series = _series(postgres)
    conn.execute(
        text(
            f"{prefix} INSERT INTO contacts (first_name, last_name, email, timezone, fields, "
            "dnc, sms_opted_out, email_unsubscribed, email_bounced, last_contacted_mode, "
            "created_at, updated_at) "
            "SELECT 'Pending', 'Bench', 'pending' || s.i || '@bench.example', 'UTC', '{}', "
            "false, false, false, false, 'not_contacted', :now, :now "
            f"FROM {series} ORDER BY s.i"
        ),
        {"first": first, "last": first + count - 1, "now": _time(T0, postgres)},
    )
    low, high, made = conn.execute(
        text("SELECT min(id), max(id), count(*) FROM contacts WHERE id > :before"),
        {"before": before},
    ).one()
    # The enrollments refer to contacts by arithmetic on the first id: one writer on a fresh
    # database numbers them without gaps, and anything else must not pass unnoticed.
    if made != count or high - low + 1 != count:
        raise BenchmarkFailed("the pending contacts were not numbered one after another")
    return int(low)


def _series(postgres: bool) -> tuple[str, str]:
    """The integers :first to :last as `s(i)`: a prefix for the statement and its FROM item."""
    if postgres:
        return "", "generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS s(i)"
    return (
        "WITH RECURSIVE s(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM s WHERE i < :last)",
        "s",
    )


def _time(value: Any, postgres: bool) -> Any:
    return value if postgres else sqlite_time(value)


def _settle(engine: Engine) -> None:
    """What a running system has done by the time it holds this many rows.

    PostgreSQL: VACUUM ANALYZE (autovacuum's work after a load). SQLite: a checkpoint of the
    WAL, as a running system makes as it goes.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
