"""rollup: the reports count history after it is written, from a mark

Revision ID: 0019_rollup
Revises: 0018_speed
Create Date: 2026-12-04 20:30:00

Until now every batch of history was counted for the reports in the transaction that wrote
it; now the worker counts what was written since a mark, in large batches, and a report
counts what is left before it reads. Everything written before this migration was counted
already: the mark starts at the highest event id.

On SQLite a new row takes the highest id plus one, so deleting the newest events would hand
their ids out again, below the mark, and those events would never be counted: a trigger
moves the mark back whenever the newest events are deleted. PostgreSQL never reuses a
sequence's ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_rollup"
down_revision = "0018_speed"
branch_labels = None
depends_on = None

_SQLITE_TRIGGER = """
CREATE TRIGGER events_keep_report_mark AFTER DELETE ON events
WHEN old.id >= (SELECT coalesce(max(id), 0) FROM events)
BEGIN
  UPDATE report_marks SET mark = (SELECT coalesce(max(id), 0) FROM events)
  WHERE mark > (SELECT coalesce(max(id), 0) FROM events);
END
"""


def upgrade() -> None:
    op.create_table(
        "report_marks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("holes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_marks")),
    )
    op.execute(
        "INSERT INTO report_marks (name, mark, holes)"
        " SELECT 'events', coalesce(max(id), 0), '[]' FROM events"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_keep_report_mark")
    op.drop_table("report_marks")
