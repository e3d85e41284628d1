"""partitions: PostgreSQL keeps history (`events`) in one partition a month

Revision ID: 0020_partitions
Revises: 0019_rollup
Create Date: 2026-12-04 20:00:00

`cadenza prune` then drops whole months instead of deleting their rows one by one
(`cadenza.store.partitions`). The table is made again `PARTITION BY RANGE (time)` and the
rows copied into it: a month for each month that has history, the current one and the next
`AHEAD`, and a default partition for whatever no month covers. A partitioned table's
primary key must hold the partition key: it becomes (id, time); ids still come from the one
sequence `events_id_seq`, so each is still unique, and the models keep declaring `id` alone
(tests/integration/test_migrations.py says so). The indexes are made on the parent
(each partition gets its own), and the subscriptions' triggers too (statement triggers on
the parent see the rows of every partition). The copy rewrites the table: on a large
history, run it in a maintenance window. SQLite keeps one table: nothing changes there.
"""

from __future__ import annotations

from datetime import UTC

from alembic import op

from cadenza.clock import SystemClock
from cadenza.store import partitions

revision = "0020_partitions"
down_revision = "0019_rollup"
branch_labels = None
depends_on = None

COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('events_id_seq'::regclass),
    time timestamp with time zone NOT NULL,
    type varchar(64) NOT NULL,
    contact_id bigint,
    sequence_id integer,
    enrollment_id bigint,
    step varchar(100),
    actor varchar(320) NOT NULL,
    reason text,
    data jsonb NOT NULL
"""
INDEXES = {
    "ix_events_contact_time": "contact_id, time",
    "ix_events_sequence_time": "sequence_id, time",
    "ix_events_time": "time, sequence_id",
    "ix_events_type_time": "type, time, sequence_id",
}
TRIGGERS = {
    "cadenza_subscription_fanout": "INSERT ON events REFERENCING NEW TABLE AS new_rows",
    "cadenza_subscription_forget": "DELETE ON events REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(f"CREATE TABLE events ({COLUMNS}) PARTITION BY RANGE (time)")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF events DEFAULT")
    for month in _months():
        op.execute(partitions.create_sql(month))
    _fill("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, time)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(f"CREATE TABLE events ({COLUMNS})")
    _fill("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)")


def _set_aside() -> None:
    """The current table out of the way, under another name and without its triggers,
    indexes and key (their names are the new table's)."""
    op.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON events")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("ALTER TABLE events DROP CONSTRAINT pk_events")
    op.execute("ALTER TABLE events RENAME TO events_before")
    # Owned by the old table's id, the sequence would go with it.
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY NONE")


def _fill(key: str) -> None:
    """The rows into the new table, then its key, indexes and triggers (built once, after
    the copy, rather than row by row)."""
    columns = partitions.COLUMNS
    op.execute(f"INSERT INTO events ({columns}) SELECT {columns} FROM events_before")
    op.execute("DROP TABLE events_before")  # its partitions with it, going down
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute(key)
    for name, on in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON events ({on})")
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {when} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute("ANALYZE events")


def _months() -> list[partitions.Month]:
    """Every month that has history, the current one and the next `AHEAD`."""
    found = op.get_bind().exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', time AT TIME ZONE 'UTC') FROM events_before"
    )
    wanted = {partitions.month_of(start.replace(tzinfo=UTC)) for start in found.scalars()}
    now = SystemClock().now()
    current = partitions.month_of(now)
    for _ in range(partitions.AHEAD + 1):
        wanted.add(current)
        current = partitions.month_of(current.end)
    return sorted(wanted)
