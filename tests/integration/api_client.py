"""The API as a client sees it: an app on the test database, a fixed clock and a key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services.users import add_user, create_key
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import at, write

T0 = "2026-12-01T15:00:00Z"  # a Tuesday, 09:00 in Chicago
PROBLEM = "application/problem+json"
USER = "ana@example.com"


@dataclass
class Api:
    """A client that sends the key on every request; paths are relative to /api/v1."""

    db: Database
    clock: FixedClock
    client: TestClient
    token: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.request(
            method, "/api/v1" + path, headers=headers, **kwargs
        )
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The JSON of a response that must have `status`."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def at(self, when: str) -> None:
        self.clock.set(at(when))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem details of a refused request, checked to be one."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    assert "Traceback" not in response.text
    return body


@contextmanager
def running_api(db: Database, tmp_path: Path) -> Iterator[Api]:
    """The app on `db` at T0, with user ana@example.com and an API key acting as her."""
    with write(db) as session:
        add_user(session=session, email=USER, name="Ana Alvarez", role="admin", now=at(T0))
        _, token = create_key(session=session, name="tests", user_email=USER, now=at(T0))
    settings = Settings(
        environment="test", database_url=db.url, sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    clock = FixedClock(at(T0))
    app = create_app(settings, clock=clock)
    try:
        with TestClient(app) as client:
            yield Api(db, clock, client, token)
    finally:
        app.state.engine.dispose()
