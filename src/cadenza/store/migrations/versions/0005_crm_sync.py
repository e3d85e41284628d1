"""CRM sync: webhook subscriptions for history events, each delivery logged; idempotency keys

Revision ID: 0005_crm_sync
Revises: 0004
Create Date: 2026-12-04 14:00:00

A trigger on `events` adds a pending delivery for each active subscription whose topics
match the new event, in the transaction that records it: every path that writes history
(the worker's batches, the PostgreSQL pipeline, the services) is covered, nothing is lost
if a process dies after the commit, and with no subscription the trigger finds nothing.
On PostgreSQL it runs once per statement over the inserted rows (a transition table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

import cadenza.store.models

revision = "0005_crm_sync"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = cadenza.store.models.UTCDateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_MATCH = """
    FROM subscription_topics t
    JOIN subscriptions s ON s.id = t.subscription_id AND s.active
    WHERE (t.type IS NULL OR t.type = {row}.type)
      AND (t.sequence_id IS NULL OR t.sequence_id = {row}.sequence_id)
"""

POSTGRES_FUNCTION = """
CREATE FUNCTION cadenza_subscription_fanout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, event_id, status, attempts, created_at)
    SELECT DISTINCT t.subscription_id, n.id, 'pending', 0, n.time
    FROM new_rows n
    JOIN subscription_topics t
      ON (t.type IS NULL OR t.type = n.type)
     AND (t.sequence_id IS NULL OR t.sequence_id = n.sequence_id)
    JOIN subscriptions s ON s.id = t.subscription_id AND s.active;
    RETURN NULL;
END $$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER cadenza_subscription_fanout AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION cadenza_subscription_fanout()
"""
# An event deleted before it was delivered (its enrollment removed, or pruned) takes its
# waiting deliveries with it: on SQLite a later event may even reuse its id.
POSTGRES_FORGET = """
CREATE FUNCTION cadenza_subscription_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_deliveries d USING old_rows o
    WHERE d.event_id = o.id AND d.status = 'pending';
    RETURN NULL;
END $$
"""
POSTGRES_FORGET_TRIGGER = """
CREATE TRIGGER cadenza_subscription_forget AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION cadenza_subscription_forget()
"""
SQLITE_FORGET = """
CREATE TRIGGER cadenza_subscription_forget AFTER DELETE ON events
WHEN EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending')
BEGIN
    DELETE FROM webhook_deliveries WHERE event_id = OLD.id AND status = 'pending';
END
"""
SQLITE_TRIGGER = f"""
CREATE TRIGGER cadenza_subscription_fanout AFTER INSERT ON events
WHEN EXISTS (SELECT 1 FROM subscriptions WHERE active)
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, event_id, status, attempts, created_at)
    SELECT DISTINCT t.subscription_id, NEW.id, 'pending', 0, NEW.time
    {_MATCH.format(row="NEW")};
END
"""


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_subscriptions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "subscription_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("sequence_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_topics_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_topics")),
    )
    op.create_index("ix_subscription_topics_type", "subscription_topics", ["type"])
    op.create_index(
        op.f("ix_subscription_topics_subscription_id"),
        "subscription_topics",
        ["subscription_id"],
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_id", BIG, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("last_attempt_at", TIME, nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name=op.f("uq_webhook_deliveries_subscription_id")
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (POSTGRES_FUNCTION, POSTGRES_TRIGGER, POSTGRES_FORGET,
                          POSTGRES_FORGET_TRIGGER):  # fmt: skip
            op.execute(statement)
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute(SQLITE_FORGET)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("cadenza_subscription_fanout", "cadenza_subscription_forget"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON events")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        op.execute("DROP TRIGGER IF EXISTS cadenza_subscription_fanout")
        op.execute("DROP TRIGGER IF EXISTS cadenza_subscription_forget")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_webhook_deliveries_event", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_subscription_topics_subscription_id"), table_name="subscription_topics")
    op.drop_index("ix_subscription_topics_type", table_name="subscription_topics")
    op.drop_table("subscription_topics")
    op.drop_table("subscriptions")
