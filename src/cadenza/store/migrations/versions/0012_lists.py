"""lists that scale: the index the to-do list pages every task on

Revision ID: 0012_lists
Revises: 0011_reports
Create Date: 2026-12-04 14:00:00

The to-do list pages tasks soonest due first: open ones on `ix_tasks_status_due` (0009),
all of them on this one, so each page is an index range however deep the page. History
pages on `ix_events_time` (0009) and remaining tasks per sequence count on
`ix_tasks_status_sequence` (0008).
"""

from __future__ import annotations

from alembic import op

revision = "0012_lists"
down_revision = "0011_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_due", ["due_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_due")
