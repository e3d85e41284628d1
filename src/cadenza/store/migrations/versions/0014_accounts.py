"""accounts, saved views and audiences

Revision ID: 0014_accounts
Revises: 0012_lists
Create Date: 2026-12-04 17:00:00

Accounts (companies) with their domains and owner, contacts.account_id; saved views (named,
shared filters); one audience record per sequence (its last evaluation and high-water mark),
and the index on contacts.updated_at that lets an evaluation read only changed contacts.
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_accounts"
down_revision = "0013_contacts"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_accounts_owner_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "account_domains",
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_domains_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain", name="pk_account_domains"),
    )
    op.create_index("ix_account_domains_account_id", "account_domains", ["account_id"])
    op.create_table(
        "views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("condition", JSON, nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("sharing", sa.String(16), nullable=False),
        sa.Column("sharing_access", sa.String(8), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_views_owner_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_views"),
        sa.UniqueConstraint("name", name="uq_views_name"),
    )
    op.create_table(
        "audience_runs",
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("high_water", TIME, nullable=True),
        sa.Column("at_mark", JSON, nullable=False),
        sa.Column("evaluated_at", TIME, nullable=False),
        sa.Column("next_at", TIME, nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("examined", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("enrolled", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequences.id"],
            name="fk_audience_runs_sequence_id_sequences",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence_id", name="pk_audience_runs"),
    )
    if op.get_bind().dialect.name == "sqlite":
        _add_account_sqlite()
    else:
        op.add_column("contacts", sa.Column("account_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_contacts_account_id_accounts", "contacts", "accounts", ["account_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    op.create_index("ix_contacts_account_id", "contacts", ["account_id"])
    op.create_index("ix_contacts_updated_at", "contacts", ["updated_at"])


def _add_account_sqlite() -> None:
    """SQLite takes a named key only by copying the table, which leaves out its expression
    indexes (SQLAlchemy does not reflect them, and says so): they are made again after."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("contacts", schema=None) as batch_op:
            batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                "fk_contacts_account_id_accounts", "accounts", ["account_id"], ["id"],
                ondelete="SET NULL",
            )  # fmt: skip
    _name_indexes()


def downgrade() -> None:
    op.drop_index("ix_contacts_updated_at", table_name="contacts")
    op.drop_index("ix_contacts_account_id", table_name="contacts")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("contacts", schema=None) as batch_op:
            batch_op.drop_constraint("fk_contacts_account_id_accounts", type_="foreignkey")
            batch_op.drop_column("account_id")
    if op.get_bind().dialect.name == "sqlite":
        _name_indexes()

    op.drop_table("audience_runs")
    op.drop_table("views")
    op.drop_index("ix_account_domains_account_id", table_name="account_domains")
    op.drop_table("account_domains")
    op.drop_table("accounts")


def _name_indexes() -> None:
    for name in ("first_name", "last_name"):
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_contacts_{name}_lower ON contacts(lower({name}))"
        )
