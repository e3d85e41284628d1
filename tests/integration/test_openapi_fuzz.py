"""Schemathesis over the OpenAPI document, against a real server, with a valid key.

Every operation gets generated requests, valid and invalid: the server never answers 5xx, and
every status it answers is one the document lists for that operation. Bounded (a fixed seed,
the coverage phase and ten random requests per operation): about 100 s per backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cadenza.services.users import add_user, create_key
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, store, write
from tests.live_server import live_server

pytestmark = pytest.mark.slow

T0 = at("2026-12-01T15:00:00Z")
SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
DRIP = """
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
"""


def test_generated_requests_get_no_server_error_and_only_documented_statuses(
    db: Database, tmp_path: Path
) -> None:
    with write(db) as session:
        add_user(session=session, email="ana@example.com", name="Ana", role="admin", now=T0)
        _, token = create_key(
            session=session,
            name="fuzz",
            user_email="ana@example.com",
            now=T0,
            scopes=("api", "inbound"),
        )
        store(session, DRIP, T0)  # something real to find, change and delete
        add_contact(session, T0, email="jane@example.com")
    env = {"CADENZA_ENVIRONMENT": "development", "CADENZA_INBOUND_SECRET": "x" * 32}
    with live_server(db.url, tmp_path, **env) as server:
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "--no-color",
                "run",
                f"{server.url}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,status_code_conformance",
                # Examples and boundary values of every field (coverage), then a few random
                # requests per operation; stateful runs are left out to bound the time.
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "10",
                "--seed",
                "20261201",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
