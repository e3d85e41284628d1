"""/readyz tells whether the database serves the code's schema; /metrics shows the backlog."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services import enrollments
from cadenza.services.users import add_user, create_key
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, store, write

T0 = at("2026-03-02T15:00:00Z")
TOKEN = "metrics-token-for-tests"
TAG = """
name: Tagging
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: tag, action: add_tag, tag: seen}
"""


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    settings = Settings(database_url=db.url, environment="test", metrics_token=TOKEN)
    with TestClient(create_app(settings, clock=FixedClock(T0))) as running:
        yield running


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_says_the_schema_is_behind(db: Database, client: TestClient) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "schema at 0003" in response.json()["reason"]
    assert "cadenza init" in response.json()["reason"]


def test_readyz_says_the_database_is_unreachable() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", environment="test"
    )
    with TestClient(create_app(settings)) as running:
        response = running.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unreachable")


def _keys(db: Database) -> dict[str, str]:
    with write(db) as session:
        keys = {}
        for email, role in (("root@acme.example", "admin"), ("ana@acme.example", "agent")):
            add_user(session=session, email=email, role=role, now=T0)
            keys[role] = create_key(session=session, name=role, user_email=email, now=T0)[1]
    return keys


def test_metrics_need_the_token_or_an_admins_key(db: Database, client: TestClient) -> None:
    keys = _keys(db)
    basic = base64.b64encode(f"prometheus:{TOKEN}".encode()).decode()
    answers = {
        "none": client.get("/metrics").status_code,
        "wrong": client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code,
        "token": client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code,
        "basic": client.get("/metrics", headers={"Authorization": f"Basic {basic}"}).status_code,
        "agent": client.get(
            "/metrics", headers={"Authorization": f"Bearer {keys['agent']}"}
        ).status_code,
        "admin": client.get(
            "/metrics", headers={"Authorization": f"Bearer {keys['admin']}"}
        ).status_code,
    }
    assert answers == {
        "none": 401,
        "wrong": 401,
        "token": 200,
        "basic": 200,
        "agent": 403,
        "admin": 200,
    }


def _figure(client: TestClient, name: str) -> float:
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    line = next(line for line in body.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_metrics_show_the_backlog_and_its_lateness(db: Database, client: TestClient) -> None:
    assert _figure(client, "cadenza_due_backlog") == 0
    with write(db) as session:
        store(session, TAG, T0)
        ids = [add_contact(session, T0, email=f"c{n}@example.com") for n in range(3)]
        enrollments.enroll(
            session=session,
            sequence="Tagging",
            contact_ids=ids,
            now=at("2026-03-02T14:00:00Z"),  # due an hour before the clock's now
            settings=SETTINGS,
        )
    assert _figure(client, "cadenza_due_backlog") == 3
    assert _figure(client, "cadenza_oldest_due_age_seconds") == pytest.approx(3600, abs=1)
