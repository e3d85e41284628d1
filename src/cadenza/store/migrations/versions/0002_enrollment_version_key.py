"""enrollments refer to their version and sequence with one key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sequence_versions", schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f("uq_sequence_versions_id"), ["id", "sequence_id"])
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_enrollments_version_id_sequence_versions"), type_="foreignkey"
        )
        batch_op.drop_constraint(op.f("fk_enrollments_sequence_id_sequences"), type_="foreignkey")
        batch_op.create_foreign_key(
            op.f("fk_enrollments_version_id_sequence_versions"),
            "sequence_versions",
            ["version_id", "sequence_id"],
            ["id", "sequence_id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_enrollments_version_id_sequence_versions"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            op.f("fk_enrollments_sequence_id_sequences"),
            "sequences",
            ["sequence_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            op.f("fk_enrollments_version_id_sequence_versions"),
            "sequence_versions",
            ["version_id"],
            ["id"],
        )
    with op.batch_alter_table("sequence_versions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_sequence_versions_id"), type_="unique")
