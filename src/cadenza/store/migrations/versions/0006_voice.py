"""voice: the contact's sticky line and the calls the provider placed

Revision ID: 0006_voice
Revises: 0005_crm_sync
Create Date: 2026-12-04 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cadenza.store.models

revision = "0006_voice"
down_revision = "0005_crm_sync"
branch_labels = None
depends_on = None

TIME = cadenza.store.models.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.String(length=32), nullable=True))
    # A task's kind is its step's action: `progressive_dialer` needs more than 16 characters.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
    op.create_table(
        "voice_calls",
        sa.Column("id", BIG, nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("message_id", BIG, nullable=True),
        sa.Column("enrollment_id", BIG, nullable=True),
        sa.Column("sequence_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", BIG, nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("task_id", BIG, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_index", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(length=32), nullable=False),
        sa.Column("to", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answered_by", sa.String(length=32), nullable=True),
        sa.Column("digits", sa.String(length=16), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("total_seconds", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_voice_calls_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_voice_calls_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_voice_calls_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_calls")),
        sa.UniqueConstraint("sid", name=op.f("uq_voice_calls_sid")),
    )  # fmt: skip
    op.create_index("ix_voice_calls_contact", "voice_calls", ["contact_id", "created_at"])
    op.create_index(op.f("ix_voice_calls_message_id"), "voice_calls", ["message_id"])


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
    op.drop_index(op.f("ix_voice_calls_message_id"), table_name="voice_calls")
    op.drop_index("ix_voice_calls_contact", table_name="voice_calls")
    op.drop_table("voice_calls")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("line")
