"""PostgreSQL: history (`events`) is partitioned by month, so that pruning drops partitions.

Each month of UTC time is a table `events_pYYYYMM` holding `[first of the month, first of
the next)`; `events_default` takes any row no month exists for, so an insert never fails.
`ensure` makes the current month and the next `AHEAD` before they are needed (the worker at
start and once a day, `cadenza init`) and moves whatever landed in the default partition
into a month of its own. SQLite keeps one table: every function here does nothing there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

PARENT = "events"
DEFAULT = "events_default"
AHEAD = 3  # months made after the current one
COLUMNS = "id, time, type, contact_id, sequence_id, enrollment_id, step, actor, reason, data"
_NAME = re.compile(r"^events_p(\d{4})(\d{2})$")
# One maker at a time: two workers starting together would both try to attach a month.
_LOCK = 0x63_61_64_70  # any constant of our own


@dataclass(frozen=True, order=True)
class Month:
    """A month's partition: rows with `start <= time < end`."""

    start: datetime
    end: datetime

    @property
    def name(self) -> str:
        return f"events_p{self.start:%Y%m}"


def month_of(instant: datetime) -> Month:
    """The (UTC) month `instant` falls in."""
    start = instant.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Month(start, _add_months(start, 1))


def _add_months(start: datetime, count: int) -> datetime:
    index = start.year * 12 + start.month - 1 + count
    return start.replace(year=index // 12, month=index % 12 + 1)


def is_partitioned(connection: Connection) -> bool:
    """Whether `events` is a partitioned table (PostgreSQL, after migration 0020)."""
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.exec_driver_sql(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass('events')"
    ).scalar()
    return kind == "p"


def months(connection: Connection) -> list[Month]:
    """The monthly partitions of `events`, oldest first (none on SQLite)."""
    if not is_partitioned(connection):
        return []
    names = connection.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass"
    ).scalars()
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            found.append(month_of(datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
    return sorted(found)


def create_sql(month: Month) -> str:
    """The statement making `month` a partition (for a migration, while nothing else runs)."""
    return (
        f"CREATE TABLE {month.name} PARTITION OF {PARENT}"
        f" FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
    )


def ensure(connection: Connection, now: datetime, ahead: int = AHEAD) -> list[str]:
    """Make the current and next `ahead` months, and a month for each row in the default
    partition (moved there); the names made."""
    if not is_partitioned(connection):
        return []
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK})")
    current = month_of(now)
    wanted = {month_of(_add_months(current.start, n)) for n in range(ahead + 1)}
    strays = connection.exec_driver_sql(
        f"SELECT DISTINCT date_trunc('month', time AT TIME ZONE 'UTC') FROM {DEFAULT}"
    ).scalars()
    wanted |= {month_of(stray.replace(tzinfo=UTC)) for stray in strays}
    made = []
    for month in sorted(wanted - set(months(connection))):
        _attach(connection, month)
        made.append(month.name)
    return made


def _attach(connection: Connection, month: Month) -> None:
    # Made apart and attached, not `PARTITION OF` (which locks the whole table): attaching
    # locks the parent only against other schema changes, so writing history goes on;
    # reading it waits for the default partition, locked until the commit (kept short: it
    # normally holds nothing). Its rows of that month move first (attaching refuses while
    # any are there), on the partitions themselves: no trigger of the parent sees the move.
    bounds = {"start": month.start, "end": month.end}
    connection.exec_driver_sql(
        f"CREATE TABLE {month.name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE time >= :start AND time < :end"
            f" RETURNING {COLUMNS}) INSERT INTO {month.name} ({COLUMNS})"
            f" SELECT {COLUMNS} FROM moved"
        ),
        bounds,
    )
    connection.exec_driver_sql(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {month.name} FOR VALUES"
        f" FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
    )


def include_name(name: str | None, kind: str, _parents: object) -> bool:
    """For Alembic's comparison: a month's partition is no table of the models (the parent
    `events` is); made by `ensure`, not by a migration."""
    return not (kind == "table" and name is not None and (name == DEFAULT or _NAME.match(name)))


def drop(connection: Connection, gone: list[Month]) -> int:
    """Drop the partitions of the months `gone`; the rows they held."""
    rows = 0
    for month in gone:
        rows += connection.exec_driver_sql(f"SELECT count(*) FROM {month.name}").scalar_one()
        # A dropped table fires no delete trigger: its rows' deliveries still waiting go
        # here, as the trigger takes them for deleted rows (a removed event is never sent).
        connection.exec_driver_sql(
            "DELETE FROM webhook_deliveries d WHERE d.status = 'pending'"
            f" AND EXISTS (SELECT 1 FROM {month.name} e WHERE e.id = d.event_id)"
        )
    # Last and together: dropping locks all of history until the commit.
    for month in gone:
        connection.exec_driver_sql(f"DROP TABLE {month.name}")
    return int(rows)
