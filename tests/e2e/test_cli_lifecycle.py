"""`sequences pause|resume|end|clone|delete`, `enrollments stop|skip` and `migrate`, as a user
runs them: the installed console script on a SQLite file made by `cadenza init`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cadenza.store.db import make_engine, session_factory, writing
from cadenza.store.models import Contact

CADENZA = str(Path(sys.executable).parent / "cadenza")
NOW = "2026-12-01T15:00:00Z"
DRIP = """
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
  - {key: call, action: call, wait: {hours: 1}, assignee: contact_owner}
  - {key: again, action: email, wait: {days: 1}, subject: "Again", body: "<p>2</p>"}
"""


class Cli:
    def __init__(self, folder: Path) -> None:
        self.cwd = folder
        self.url = f"sqlite:///{folder / 'cadenza.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = self.url

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CADENZA, *args, "--now", NOW],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def enrollments(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(self.ok("enrollments", "list", "--json"))
        return rows


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cadenza init`, `apply` and one enrolled contact, once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("lifecycle")
    cli = Cli(folder)
    cli.ok("init")
    (folder / "drip.yaml").write_text(DRIP)
    cli.ok("apply", "drip.yaml")
    engine = make_engine(cli.url)
    now = datetime(2026, 12, 1, 15, tzinfo=UTC)
    with writing(session_factory(engine)) as session:
        session.add(
            Contact(
                first_name="Jane",
                email="jane@example.com",
                phone="+13125550101",
                timezone="America/Chicago",
                fields={},
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()
    cli.ok("enroll", "Drip", "--contact", "1")
    return folder / "cadenza.db"


@pytest.fixture
def cli(tmp_path: Path, initialised: Path) -> Cli:
    shutil.copyfile(initialised, tmp_path / "cadenza.db")
    return Cli(tmp_path)


def test_pause_then_end_and_no_way_back(cli: Cli) -> None:
    assert (
        cli.ok("sequences", "pause", "Drip").strip() == "sequence Drip paused; 1 enrollments held"
    )
    assert "1 enrollments exited" in cli.ok("sequences", "end", "Drip")
    (row,) = cli.enrollments()
    assert (row["status"], row["exit_reason"]) == ("exited", "sequence ended")
    refused = cli("sequences", "activate", "Drip")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "sequence 'Drip' is ended" in refused.stderr


def test_clone_then_delete_only_what_nobody_was_enrolled_in(cli: Cli) -> None:
    cli.ok("sequences", "clone", "Drip", "Drip copy")
    refused = cli("sequences", "delete", "Drip")
    assert refused.returncode == 1 and "1 enrollments" in refused.stderr
    cli.ok("sequences", "delete", "Drip copy")
    assert [r["name"] for r in json.loads(cli.ok("sequences", "list", "--json"))] == ["Drip"]


def test_skip_then_migrate_refused_until_the_step_is_mapped(cli: Cli) -> None:
    assert "at step call" in cli.ok("enrollments", "skip", "1")
    (cli.cwd / "drip.yaml").write_text(DRIP.replace("key: call", "key: phone"))
    cli.ok("apply", "drip.yaml")
    refused = cli("migrate", "Drip", "--to-version", "2")
    assert refused.returncode == 1 and "'call' (1 enrollments)" in refused.stderr
    moved = cli.ok("migrate", "Drip", "--to-version", "2", "--map", "call=phone")
    assert "moved 1 enrollments to v2 (1 from v1)" in moved
