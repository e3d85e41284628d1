"""PostgreSQL keeps history in a partition a month, made ahead and dropped whole by `prune`;
SQLite keeps one table. Either way an insert never fails and `prune` keeps reports equal."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, select, text

from cadenza.clock import FixedClock, SystemClock
from cadenza.engine.runner import drain_once
from cadenza.services import enrollments, reports
from cadenza.services.operations import prune
from cadenza.store import migrate, partitions
from cadenza.store.db import make_engine
from cadenza.store.models import Event
from tests.conftest import PG_ADMIN_URL, Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

ONCE = """
name: Once
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: seen}
"""
# Enrollments that finish when enrolled: their history is all at these times.
TIMES = ("2026-01-05T12:00:00Z", "2026-02-10T12:00:00Z", "2026-03-10T12:00:00Z",
         "2026-03-20T12:00:00Z", "2026-04-02T12:00:00Z")  # fmt: skip
CUTOFF = at("2026-03-15T00:00:00Z")
NOW = at("2026-06-01T12:00:00Z")


def _children(connection: Connection) -> set[str]:
    """The tables PostgreSQL holds as partitions of `events` (its own catalog, not ours)."""
    rows = connection.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass"
    )
    return set(rows.scalars())


def _where(connection: Connection) -> dict[int, str]:
    """Each history row's id and the partition holding it."""
    rows = connection.exec_driver_sql("SELECT id, tableoid::regclass::text FROM events")
    return {row[0]: row[1] for row in rows}


def _history(db: Database) -> None:
    with write(db) as session:
        store(session, ONCE, at(TIMES[0]))
    for n, moment in enumerate(TIMES):
        with write(db) as session:
            contact = add_contact(session, at(moment), email=f"c{n}@example.com")
            enrollments.enroll(
                session=session, sequence="Once", contact_ids=[contact], now=at(moment),
                settings=SETTINGS,
            )  # fmt: skip
        run_worker(db, moment)


def _rows(db: Database) -> list[tuple[int, datetime]]:
    with db.sessions() as session:
        return [(i, t) for i, t in session.execute(select(Event.id, Event.time).order_by(Event.id))]


def _typed(db: Database) -> list[tuple[int, datetime, str]]:
    with db.sessions() as session:
        query = select(Event.id, Event.time, Event.type).order_by(Event.id)
        return [(i, t, kind) for i, t, kind in session.execute(query)]


def test_history_is_partitioned_by_month_after_migrate(db: Database) -> None:
    with db.engine.connect() as connection:
        if db.backend == "sqlite":
            assert partitions.is_partitioned(connection) is False
            assert partitions.months(connection) == []
            return
        assert partitions.is_partitioned(connection)
        key = connection.exec_driver_sql(
            "SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_index x"
            " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)"
            " WHERE x.indrelid = 'events'::regclass AND x.indisprimary"
        ).scalar()
        assert key == ["id", "time"]
        indexes = connection.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relkind = 'I'"
        ).scalars()
        assert set(indexes) >= {"ix_events_contact_time", "ix_events_time"}
        children = _children(connection)
    # The template was migrated today: this month and the next AHEAD, and the default.
    current = partitions.month_of(SystemClock().now())
    assert current.name in children and partitions.DEFAULT in children
    assert len(children) >= partitions.AHEAD + 2


def test_any_time_lands_and_ensure_moves_it_to_its_month(db: Database) -> None:
    far = [at("1950-01-31T23:59:59Z"), at("2150-06-01T00:00:00Z"), NOW]
    with write(db) as session:
        session.add_all(Event(time=t, type="note", actor="system", data={}) for t in far)
    before = _rows(db)
    assert [t for _, t in before] == far
    if db.backend == "sqlite":
        return
    with db.engine.begin() as connection:
        assert set(_where(connection).values()) == {partitions.DEFAULT}
        made = partitions.ensure(connection, NOW)
    assert {"events_p195001", "events_p215006", "events_p202606", "events_p202609"} <= set(made)
    with db.engine.begin() as connection:
        assert sorted(_where(connection).values()) == [
            "events_p195001", "events_p202606", "events_p215006"]  # fmt: skip
        assert partitions.ensure(connection, NOW) == []  # nothing left to make
    assert _rows(db) == before  # moved, not lost nor renumbered


def test_the_worker_makes_the_months_ahead(pg_db: Database) -> None:
    later = at("2031-04-10T09:00:00Z")
    drain_once(pg_db.sessions, FixedClock(later), SETTINGS, send=False)
    with pg_db.engine.connect() as connection:
        assert {"events_p203104", "events_p203107"} <= _children(connection)


def test_prune_drops_whole_months_and_keeps_the_rest(db: Database) -> None:
    _history(db)
    with db.engine.begin() as connection:
        partitions.ensure(connection, NOW)  # January to April out of the default
    # A row no month holds (it came after the last upkeep): pruned all the same.
    with write(db) as session:
        session.add(Event(time=at("2025-07-01T00:00:00Z"), type="note", actor="x", data={}))
    rows = _rows(db)
    old = [i for i, t in rows if t < CUTOFF]
    kept = [i for i, t in rows if t >= CUTOFF]
    assert len(old) > 0 and len(kept) > 0
    with db.sessions() as session:
        report = reports.sequence_report(session=session, name="Once")
    export = io.BytesIO()
    typed = _typed(db)
    with write(db) as session:
        pruned = prune(session=session, before=CUTOFF, export=export)
    lines = [json.loads(line) for line in export.getvalue().splitlines()]
    exported = [x for x in lines if x["kind"] == "event"]
    assert [(x["id"], at(x["time"]), x["type"]) for x in exported] == [
        (i, t, kind) for i, t, kind in typed if t < CUTOFF]  # fmt: skip
    assert pruned.events == len(old)
    assert [i for i, _ in _rows(db)] == kept
    with db.sessions() as session:
        assert reports.sequence_report(session=session, name="Once") == report
    if db.backend == "postgresql":
        with db.engine.connect() as connection:
            children = _children(connection)
            placed = _where(connection)
        assert not {"events_p202601", "events_p202602"} & children  # dropped whole
        assert {"events_p202603", "events_p202604"} <= children
        assert set(placed.values()) == {"events_p202603", "events_p202604"}
    with write(db) as session:
        assert prune(session=session, before=CUTOFF).events == 0


def test_a_dropped_month_takes_its_waiting_deliveries(pg_db: Database) -> None:
    _history(pg_db)
    with pg_db.engine.begin() as connection:
        partitions.ensure(connection, NOW)
        connection.execute(text(
            "INSERT INTO subscriptions (name, url, secret, active, created_at)"
            " VALUES ('crm', 'http://127.0.0.1:9/', 's', false, :now)"), {"now": NOW})  # fmt: skip
        connection.exec_driver_sql(
            "INSERT INTO webhook_deliveries (subscription_id, event_id, status, attempts)"
            " SELECT s.id, e.id, 'pending', 0 FROM subscriptions s, events e"
        )
    with write(pg_db) as session:
        prune(session=session, before=CUTOFF)
    with pg_db.engine.connect() as connection:
        waiting = connection.exec_driver_sql(
            "SELECT count(*) FROM webhook_deliveries d"
            " WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)"
        ).scalar()
        left = connection.exec_driver_sql("SELECT count(*) FROM webhook_deliveries").scalar()
    assert waiting == 0 and left == len([t for _, t in _rows(pg_db) if t >= CUTOFF])


@pytest.fixture
def empty_pg(pg_db: Database) -> Iterator[Engine]:
    """A PostgreSQL database with no schema yet (to migrate step by step)."""
    name = f"{pg_db.url.rsplit('/', 1)[1]}_empty"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(pg_db.url.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _triggers(connection: Connection) -> list[str]:
    rows = connection.exec_driver_sql(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal"
    )
    return sorted(rows.scalars())


def _history_rows(engine: Engine) -> list[tuple[int, datetime, str]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, time, type FROM events ORDER BY id")
        return [(i, t, kind) for i, t, kind in rows]


def test_the_migration_moves_history_into_months_and_back(empty_pg: Engine) -> None:
    migrate.upgrade(empty_pg, "0018_speed")
    with empty_pg.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO events (time, type, actor, data) VALUES"
            " ('2024-02-29 23:30:00+00', 'old', 'system', '{}'),"
            " ('2026-03-01 00:00:00+00', 'march', 'system', '{}'),"
            " ('2026-03-31 23:59:59+00', 'march', 'system', '{}')"
        )
    before = _history_rows(empty_pg)
    with empty_pg.connect() as connection:
        triggers = _triggers(connection)
    assert len(triggers) == 2  # the subscriptions' fan-out and forgetting
    migrate.upgrade(empty_pg)
    with empty_pg.begin() as connection:
        assert partitions.is_partitioned(connection)
        assert _triggers(connection) == triggers
        assert sorted(_where(connection).values()) == [
            "events_p202402", "events_p202603", "events_p202603"]  # fmt: skip
        assert {"events_p202402", "events_p202603", partitions.DEFAULT} <= _children(connection)
        fresh = connection.exec_driver_sql(
            "INSERT INTO events (time, type, actor, data)"
            " VALUES ('2026-03-15 00:00:00+00', 'new', 'system', '{}') RETURNING id"
        ).scalar_one()
    assert _history_rows(empty_pg)[:3] == before
    assert fresh == before[-1][0] + 1  # the same sequence goes on
    config = migrate.alembic_config(empty_pg)
    with empty_pg.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0018_speed")
    with empty_pg.connect() as connection:
        assert not partitions.is_partitioned(connection)
        assert _triggers(connection) == triggers
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'events_p2%%'"
            ).scalar()
            == 0
        )
    assert [row[0] for row in _history_rows(empty_pg)] == [*(i for i, _, _ in before), fresh]
