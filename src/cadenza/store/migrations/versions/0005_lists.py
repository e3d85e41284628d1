"""lists that scale: indexes for the orders listings page on

Revision ID: 0005_lists
Revises: 0004
Create Date: 2026-12-04 14:00:00

The to-do list pages tasks soonest due first (open ones, or all) and history pages events in
time order: each page is then an index range, however deep the page and however big the
table. Remaining tasks per sequence are counted on (sequence_id, status).
"""

from __future__ import annotations

from alembic import op

revision = "0005_lists"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_status_due", ["status", "due_at", "id"], unique=False)
        batch_op.create_index("ix_tasks_due", ["due_at", "id"], unique=False)
        batch_op.create_index("ix_tasks_sequence_status", ["sequence_id", "status"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_time", ["time", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_time")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_sequence_status")
        batch_op.drop_index("ix_tasks_due")
        batch_op.drop_index("ix_tasks_status_due")
