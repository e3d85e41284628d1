"""providers and sender health: a provider per sender, DKIM keys, pauses, warm-up, stagger

Revision ID: 0007_providers
Revises: 0006_voice
Create Date: 2026-12-04 14:00:00

Existing senders keep sending over SMTP (`provider = smtp`), unpaused, without a warm-up
ramp or stagger. Provider events find their message by the provider's id: it is indexed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cadenza.store.models

revision = "0007_providers"
down_revision = "0006_voice"
branch_labels = None
depends_on = None

TIME = cadenza.store.models.UTCDateTime(timezone=True)
JSON = cadenza.store.models.JSONType


def upgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sa.String(length=16), nullable=False, server_default="smtp")
        )
        batch_op.add_column(
            sa.Column("provider_config", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("dkim_selector", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("dkim_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("paused_at", TIME, nullable=True))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("warmup", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("stagger_seconds", sa.Double(), nullable=True))
    op.create_index(op.f("ix_messages_provider_id"), "messages", ["provider_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_provider_id"), table_name="messages")
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.drop_column("stagger_seconds")
        batch_op.drop_column("warmup")
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("dkim_key")
        batch_op.drop_column("dkim_selector")
        batch_op.drop_column("provider_config")
        batch_op.drop_column("provider")
