"""reports: counters per sequence, day and metric, and each enrollment's firsts

Revision ID: 0011_reports
Revises: 0010_ops
Create Date: 2026-12-04 14:00:00

The counters start empty: history written before this revision is not counted (reports
cover what happens from the upgrade on).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reports"
down_revision = "0010_ops"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_firsts",
        sa.Column("enrollment_id", BIG_ID, nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=100), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("variant", sa.String(length=50), nullable=False),
        sa.Column("who", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint(
            "enrollment_id", "metric", "step", "detail", name=op.f("pk_report_firsts")
        ),
    )
    with op.batch_alter_table("report_firsts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_firsts_sequence_id"), ["sequence_id"], unique=False
        )
    op.create_table(
        "report_counts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=100), nullable=False),
        sa.Column("variant", sa.String(length=50), nullable=False),
        sa.Column("who", sa.String(length=320), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_counts")),
        sa.UniqueConstraint(
            "sequence_id", "day", "metric", "step", "detail", "variant", "who", "version_id",
            "shard", name=op.f("uq_report_counts_sequence_id"),
        ),
    )  # fmt: skip
    with op.batch_alter_table("report_counts", schema=None) as batch_op:
        batch_op.create_index("ix_report_counts_day", ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_report_counts_day")
    op.drop_table("report_counts")
    with op.batch_alter_table("report_firsts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_firsts_sequence_id"))
    op.drop_table("report_firsts")
