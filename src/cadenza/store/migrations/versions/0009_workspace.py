"""the rep's workspace: notes on contacts; indexes for the to-do list and the history report

Revision ID: 0009_workspace
Revises: 0008_sequences_workspace
Create Date: 2026-12-04 13:40:00

The to-do list pages open tasks in due order and counts them per type; a contact's page
lists its tasks; the history report pages the newest events (of some types) first and counts
them with their sequence (who may see them): each read has its index, so a page costs what
it shows, and a count reads an index only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cadenza.store.models

revision = "0009_workspace"
down_revision = "0008_sequences_workspace"
branch_labels = None
depends_on = None

TIME = cadenza.store.models.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("task_id", BIG_ID, nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_notes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_notes_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index("ix_notes_contact_time", "notes", ["contact_id", "created_at"])
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_at", "id", "kind"])
    op.create_index(
        "ix_tasks_assignee_due", "tasks", ["assignee_id", "status", "due_at", "id", "kind"]
    )
    op.create_index("ix_tasks_contact", "tasks", ["contact_id"])
    op.create_index("ix_events_time", "events", ["time", "sequence_id"])
    op.create_index("ix_events_type_time", "events", ["type", "time", "sequence_id"])
    op.create_index("ix_contacts_first_name_lower", "contacts", [sa.text("lower(first_name)")])
    op.create_index("ix_contacts_last_name_lower", "contacts", [sa.text("lower(last_name)")])


def downgrade() -> None:
    op.drop_index("ix_contacts_last_name_lower", table_name="contacts")
    op.drop_index("ix_contacts_first_name_lower", table_name="contacts")
    op.drop_index("ix_events_type_time", table_name="events")
    op.drop_index("ix_events_time", table_name="events")
    op.drop_index("ix_tasks_contact", table_name="tasks")
    op.drop_index("ix_tasks_assignee_due", table_name="tasks")
    op.drop_index("ix_tasks_status_due", table_name="tasks")
    op.drop_index("ix_notes_contact_time", table_name="notes")
    op.drop_table("notes")
