"""The CLI, the API and the UI give the same figures for the same scenario."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from cadenza.clock import FixedClock
from cadenza.server import create_app
from cadenza.services import reports
from cadenza.services.users import add_user, create_key
from cadenza.settings import Settings
from tests.conftest import Database
from tests.engine_helpers import at, cadenza_command, write
from tests.integration.api_client import problem
from tests.integration.report_scenario import NOW, play
from tests.integration.web_login import PASSWORD, logged_in

MANAGER, AGENT = "mia@example.com", "bo@example.com"


def _cli(db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CADENZA_DATABASE_URL": db.url, "CADENZA_NOW": NOW}
    return subprocess.run(
        cadenza_command("report", *args), capture_output=True, text=True, env=env, timeout=60
    )


def _client(db: Database, tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    with write(db) as session:
        for email, role in ((MANAGER, "manager"), (AGENT, "agent")):
            add_user(session=session, email=email, role=role, now=at(NOW), password=PASSWORD)
        _, token = create_key(session=session, name="t", user_email=MANAGER, now=at(NOW))
    settings = Settings(
        environment="test", database_url=db.url, sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    client = TestClient(create_app(settings, clock=FixedClock(at(NOW))))
    return client, {"Authorization": f"Bearer {token}"}


def test_cli_api_and_ui_agree_on_every_figure(db: Database, tmp_path: Path) -> None:
    play(db)
    with db.sessions() as session:
        expected = reports.sequence_report(session=session, name="Outreach")
    printed = _cli(db, "Outreach", "--json")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == expected
    client, key = _client(db, tmp_path)
    with client:
        answered = client.get("/api/v1/reports/sequences/Outreach", headers=key)
        assert answered.status_code == 200 and answered.json() == expected
        logged_in(client, MANAGER)
        html = client.get("/reports/sequences/Outreach").text
    [table] = re.findall(r'<table id="messages">.*?</table>', html, re.S)
    cells = dict(re.findall(r'data-figure="(\w+)">(\d+)', table))
    assert {k: int(v) for k, v in cells.items()} == {
        k: v["count"] for k, v in expected["messages"].items()
    }
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in html


def test_csv_and_comparisons_on_every_surface(db: Database, tmp_path: Path) -> None:
    play(db)
    printed = _cli(db, "Outreach", "--csv", "--since", "2026-12-01", "--until", "2026-12-01")
    assert printed.returncode == 0, printed.stderr
    assert "Outreach,sequence,,,opened,,3,0.6" in printed.stdout.splitlines()
    client, key = _client(db, tmp_path)
    with client:
        answer = client.get(
            "/api/v1/reports/compare",
            params={"sequence": ["Outreach", "Other"], "format": "csv"},
            headers=key,
        )
        assert answer.headers["content-type"].startswith("text/csv")
        assert "Other,sequence,,,replied,,1,0.5" in answer.text.splitlines()
        logged_in(client, MANAGER)
        page = client.get("/reports/compare", params={"sequence": ["Outreach", "Other"]})
        download = client.get("/reports/export/Outreach")
    assert 'data-sequence="Other"' in page.text
    assert download.text == _cli(db, "Outreach", "--csv").stdout


def test_bad_requests_are_refused_on_every_surface(db: Database, tmp_path: Path) -> None:
    play(db)
    for args in (["Nope"], ["Outreach", "--since", "soon"], ["Outreach", "--json", "--csv"]):
        refused = _cli(db, *args)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert refused.stderr.strip()
    client, key = _client(db, tmp_path)
    with client:
        problem(client.get("/api/v1/reports/sequences/Nope", headers=key), 404)
        problem(client.get("/api/v1/reports/sequences/Outreach?since=soon", headers=key), 422)
        logged_in(client, AGENT)
        assert client.get("/reports").status_code == 403
        assert 'href="/reports"' not in client.get("/").text  # not offered to agents
