"""speed: the sequence queue's index, and a person's own time zone

Revision ID: 0018_speed
Revises: 0012_lists
Create Date: 2026-12-04 17:00:00

A sequence's queue reads its running enrollments soonest due first, a page at a time:
`ix_enrollments_queue` is that order within a sequence (with the status, so filtering on
it reads no table row). `users.timezone` is the zone a person chose on their profile.
`report_firsts` loses its index on `sequence_id`: nothing reads firsts by sequence, and
every counted event wrote to it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_speed"
down_revision = "0016_engine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollments_queue", ["sequence_id", "due_at", "id", "status"], unique=False
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("report_firsts", schema=None) as batch_op:
        batch_op.drop_index("ix_report_firsts_sequence_id")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite plans by the statistics ANALYZE kept: without figures for the new index it
        # would take it for a sequence's status counts, where (sequence_id, status) is better.
        op.execute("ANALYZE enrollments")


def downgrade() -> None:
    with op.batch_alter_table("report_firsts", schema=None) as batch_op:
        batch_op.create_index("ix_report_firsts_sequence_id", ["sequence_id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollments_queue")
