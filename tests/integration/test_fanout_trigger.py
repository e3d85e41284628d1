"""History reaches webhook subscribers whenever one is active, and costs SQLite no trigger
while none is: the fan-out trigger is made and dropped with the subscriptions' state."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cadenza.services import history
from cadenza.services.subscriptions import managing
from cadenza.store.models import WebhookDelivery
from tests.conftest import Database
from tests.engine_helpers import at, write

NOW = at("2026-12-01T15:00:00Z")
URL = "http://127.0.0.1:9/crm"
ALLOW = ["127.0.0.1"]


def _record(session: Session) -> None:
    history.record(session, history.Subject(None), "note_added", NOW, note="hello")


def _deliveries(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def _trigger_present(db: Database) -> bool | None:
    if db.backend != "sqlite":
        return None
    with db.sessions() as session:
        query = "SELECT count(*) FROM sqlite_master WHERE name = 'cadenza_subscription_fanout'"
        return bool(session.execute(text(query)).scalar())


def test_events_reach_subscribers_only_while_one_is_active(db: Database) -> None:
    sqlite = db.backend == "sqlite"
    assert _trigger_present(db) is (False if sqlite else None)
    with write(db) as session:
        _record(session)
    assert _deliveries(db) == 0

    with write(db) as session:
        made = managing.create(session=session, url=URL, now=NOW, allow=ALLOW)
        _record(session)  # in the transaction that made it: delivered too
        subscription_id = made.id
    assert _trigger_present(db) is (True if sqlite else None)
    with write(db) as session:
        _record(session)
    assert _deliveries(db) == 2

    with write(db) as session:
        managing.change(
            session=session, subscription_id=subscription_id, active=False, allow=ALLOW
        )
    assert _trigger_present(db) is (False if sqlite else None)
    with write(db) as session:
        _record(session)
    assert _deliveries(db) == 2

    with write(db) as session:
        managing.change(
            session=session, subscription_id=subscription_id, active=True, allow=ALLOW
        )
        session.flush()
        _record(session)
    assert _deliveries(db) == 3
