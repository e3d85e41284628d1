"""sequences workspace: an index for the remaining tasks the sequences page counts

Revision ID: 0008_sequences_workspace
Revises: 0007_providers
Create Date: 2026-12-04 14:00:00

The sequences page counts each sequence's open tasks in one grouped query; with this index
it reads the index alone instead of every task ever made.
"""

from __future__ import annotations

from alembic import op

revision = "0008_sequences_workspace"
down_revision = "0007_providers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_status_sequence", ["status", "sequence_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_sequence")
