"""SQLite keeps the subscriptions' fan-out trigger only while a subscription is active

Revision ID: 0016_engine
Revises: 0012_lists
Create Date: 2026-12-04 17:30:00

A row trigger on `events` costs SQLite several times the insert it follows, even when it
finds nothing: it is dropped when no subscription is active, and made again by the
transaction that activates one (`cadenza.store.fanout`). PostgreSQL is unchanged.
"""

from __future__ import annotations

from alembic import op

from cadenza.store import fanout

revision = "0016_engine"
down_revision = "0015_lists_replies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    fanout.sync(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {fanout.TRIGGER}")
    op.execute(fanout.SQLITE_TRIGGER)
