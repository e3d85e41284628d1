"""SQLite: the subscriptions' fan-out trigger on `events` exists only while one is active.

A row trigger on `events` costs SQLite two to eight times the insert it follows, even when
its WHEN clause is false, and every step writes history. So the trigger is made in the
transaction that makes a subscription active and dropped in the one that leaves none
active: every path that writes history is still covered whenever a subscriber listens.
PostgreSQL's trigger runs once per statement and costs nothing measurable; it stays.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from cadenza.store.models import Subscription

TRIGGER = "cadenza_subscription_fanout"
SQLITE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON events
WHEN EXISTS (SELECT 1 FROM subscriptions WHERE active)
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, event_id, status, attempts, created_at)
    SELECT DISTINCT t.subscription_id, NEW.id, 'pending', 0, NEW.time
    FROM subscription_topics t
    JOIN subscriptions s ON s.id = t.subscription_id AND s.active
    WHERE (t.type IS NULL OR t.type = NEW.type)
      AND (t.sequence_id IS NULL OR t.sequence_id = NEW.sequence_id);
END
"""
_ACTIVE = "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE active)"
_PRESENT = (
    f"SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = '{TRIGGER}')"
)


def sync(connection: Connection) -> None:
    """SQLite: the trigger present exactly when some subscription is active."""
    if connection.dialect.name != "sqlite":
        return
    active = bool(connection.exec_driver_sql(_ACTIVE).scalar())
    present = bool(connection.exec_driver_sql(_PRESENT).scalar())
    if active and not present:
        connection.exec_driver_sql(SQLITE_TRIGGER)
    elif present and not active:
        connection.exec_driver_sql(f"DROP TRIGGER {TRIGGER}")


@event.listens_for(Session, "after_flush")
def _subscriptions_flushed(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(item, Subscription) for item in changed):
        sync(session.connection())
