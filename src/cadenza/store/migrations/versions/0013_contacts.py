"""contacts: an external id, computed last-contacted and last-activity fields, field types

Revision ID: 0013_contacts
Revises: 0012_lists
Create Date: 2026-12-04 17:00:00

The computed fields start as "not_contacted" with no times for existing contacts: history
keeps them current from the first event written after the upgrade (docs/contacts.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cadenza.store.models

revision = "0013_contacts"
down_revision = "0012_lists"
branch_labels = None
depends_on = None

TIME = cadenza.store.models.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Plain ALTER TABLE on both backends: a batch copy on SQLite would lose the name indexes.
    op.add_column("contacts", sa.Column("external_id", sa.String(length=200), nullable=True))
    op.add_column("contacts", sa.Column("last_contacted_at", TIME, nullable=True))
    op.add_column(
        "contacts",
        sa.Column(
            "last_contacted_mode",
            sa.String(length=32),
            server_default="not_contacted",
            nullable=False,
        ),
    )
    op.add_column("contacts", sa.Column("last_activity_type", sa.String(length=32), nullable=True))
    op.add_column("contacts", sa.Column("last_activity_at", TIME, nullable=True))
    op.create_index("ix_contacts_external_id", "contacts", ["external_id"], unique=True)
    op.create_table(
        "field_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("choices", JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_definitions")),
        sa.UniqueConstraint("name", name=op.f("uq_field_definitions_name")),
    )


def downgrade() -> None:
    op.drop_table("field_definitions")
    op.drop_index("ix_contacts_external_id", table_name="contacts")
    for column in (
        "last_activity_at",
        "last_activity_type",
        "last_contacted_mode",
        "last_contacted_at",
        "external_id",
    ):
        op.drop_column("contacts", column)
