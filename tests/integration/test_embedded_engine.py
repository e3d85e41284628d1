"""The worker inside `cadenza serve`: it comes back when it dies, and /healthz tells the truth."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import at


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_a_dead_worker_restarts_and_healthz_says_so_meanwhile(
    sqlite_db: Database, tmp_path: Path
) -> None:
    # One backend proves it: the supervision is the same code whatever the database.
    settings = Settings(
        environment="test",
        database_url=sqlite_db.url,
        sms_sink_path=str(tmp_path / "sms.jsonl"),
    )
    app = create_app(
        settings, clock=FixedClock(at("2026-12-01T15:00:00Z")), embedded_worker=True,
        restart_after=0.05,
    )  # fmt: skip
    with TestClient(app) as client:
        _until(lambda: client.get("/healthz").json()["worker"]["seconds_since_tick"] is not None)
        assert client.get("/healthz").status_code == 200
        with sqlite_db.engine.begin() as connection:  # the worker's claims now fail
            connection.execute(text("ALTER TABLE enrollments RENAME TO enrollments_away"))
        _until(lambda: client.get("/healthz").status_code == 503)
        body = client.get("/healthz").json()
        assert body["status"] == "unhealthy"
        assert body["worker"]["restarts"] >= 1
        assert "no such table" in str(body["worker"]["last_error"])
        with sqlite_db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE enrollments_away RENAME TO enrollments"))
        _until(lambda: client.get("/healthz").status_code == 200)
        assert client.get("/healthz").json()["worker"]["state"] == "running"
    app.state.engine.dispose()
