"""ops: PostgreSQL tells idle workers at once when a transaction makes a step due now

Revision ID: 0010_ops
Revises: 0009_workspace
Create Date: 2026-12-04 14:00:00

Two statement-level triggers on `enrollments` (INSERT and UPDATE: a trigger with transition
tables takes one event) call `pg_notify('cadenza_due', '')` when a row the statement wrote
is live and due within a second. PostgreSQL delivers one notification per transaction however
many statements sent it (identical payloads are folded), at commit; a transaction that makes
nothing due now sends none. SQLite has one process and no LISTEN: nothing changes there.
The triggers change no row, so old workers run unchanged beside new ones.
"""

from __future__ import annotations

from alembic import op

revision = "0010_ops"
down_revision = "0009_workspace"
branch_labels = None
depends_on = None

CHANNEL = "cadenza_due"
_FUNCTION = f"""
CREATE OR REPLACE FUNCTION cadenza_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM written
        WHERE status IN ('active', 'waiting') AND due_at <= now() + interval '1 second'
    ) THEN
        PERFORM pg_notify('{CHANNEL}', '');
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER enrollments_due_{event.lower()} AFTER {event} ON enrollments "
            "REFERENCING NEW TABLE AS written FOR EACH STATEMENT "
            "EXECUTE FUNCTION cadenza_notify_due()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS enrollments_due_{event} ON enrollments")
    op.execute("DROP FUNCTION IF EXISTS cadenza_notify_due()")
