"""`cadenza lint`, `apply`, `schema` and `sequences list|show`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadenza.services.users import add_group, add_user
from cadenza.store.db import make_engine, session_factory, writing

CADENZA = str(Path(sys.executable).parent / "cadenza")
EXAMPLES = Path(__file__).parents[2] / "examples"
SEQUENCES = ["inbound-lead.yaml", "classic-email.yaml", "recruiting.yaml"]


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.url = f"sqlite:///{tmp_path / 'cadenza.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = self.url

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CADENZA, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60
        )

    def add_example_people(self) -> None:
        engine = make_engine(self.url)
        now = datetime(2026, 3, 1, tzinfo=UTC)
        with writing(session_factory(engine)) as session:
            for email in ("ana@example.com", "ben@example.com", "cara@example.com"):
                add_user(session=session, email=email, now=now)
            add_group(session=session, name="sales-team", member_emails=["ana@example.com"])
        engine.dispose()


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made by `cadenza init` once; each test gets a copy (each run costs ~1 s)."""
    folder = tmp_path_factory.mktemp("init")
    result = Cli(folder)("init")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def cli(tmp_path: Path, initialised: Path) -> Iterator[Cli]:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    for file in initialised.glob("cadenza.db*"):  # the WAL too, if SQLite left one
        shutil.copyfile(file, tmp_path / file.name)
    yield Cli(tmp_path)


def test_lint_examples_exits_0(cli: Cli) -> None:
    result = cli("lint", *(f"examples/{name}" for name in SEQUENCES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"examples/{name}: ok" for name in SEQUENCES]


def test_lint_reports_each_problem_at_its_line_and_exits_1(cli: Cli) -> None:
    broken = cli.cwd / "broken.yaml"
    broken.write_text(
        "name: Broken\n"
        "steps:\n"
        "  - key: intro\n"
        "    action: smss\n"
        "    body: hi\n"
        "  - key: call\n"
        "    action: call\n"
        "    wait: {days: 1, at: '10:00'}\n"
    )
    result = cli("lint", "broken.yaml", "examples/recruiting.yaml")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("broken.yaml:4:13: steps[0].action: unknown action 'smss'")
    # The step after the broken one is still checked: every problem in one pass.
    assert lines[1].startswith("broken.yaml:6:5: steps[1]: a call step needs an assignee")
    assert lines[2:] == ["examples/recruiting.yaml: ok", "2 problems in 1 file"]


def test_lint_of_a_missing_file_exits_1(cli: Cli) -> None:
    result = cli("lint", "nope.yaml")
    assert result.returncode == 1
    assert "nope.yaml: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_apply_makes_a_version_only_when_a_definition_changes(cli: Cli) -> None:
    cli.add_example_people()
    files = [f"examples/{name}" for name in SEQUENCES]
    first = cli("apply", *files, "--now", "2026-03-02T10:00:00Z")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "created Inbound lead follow-up v1",
        "created Classic launch email cadence v1",
        "created Recruiting - senior platform engineer v1",
    ]
    again = cli("apply", "examples/inbound-lead.yaml")
    assert again.stdout.splitlines() == ["unchanged Inbound lead follow-up v1"]
    template = cli.cwd / "examples" / "templates" / "follow_up.html"
    template.write_text(template.read_text().replace("Best,", "Thanks,"))
    edited = cli("apply", "examples/inbound-lead.yaml", "--now", "2026-03-03T09:00:00Z")
    assert edited.stdout.splitlines() == ["updated Inbound lead follow-up v2"]

    listed = json.loads(cli("sequences", "list", "--json").stdout)
    assert [row["name"] for row in listed] == sorted(row["name"] for row in listed)
    inbound = next(row for row in listed if row["name"] == "Inbound lead follow-up")
    assert inbound == {
        "name": "Inbound lead follow-up",
        "status": "active",
        "steps": 9,
        "version": 2,
        "enrolled": 0,
        "description": "First touches for web leads (SMS, call, email) on business days",
        "owner": "ana@example.com",
        "sharing": "everyone",
        "access": "view",
        "created_at": "2026-03-02T10:00:00+00:00",
        "updated_at": "2026-03-03T09:00:00+00:00",
    }
    shown = json.loads(cli("sequences", "show", "Inbound lead follow-up", "--json").stdout)
    assert [(v["number"], v["created_at"]) for v in shown[0]["versions"]] == [
        (1, "2026-03-02T10:00:00+00:00"),
        (2, "2026-03-03T09:00:00+00:00"),
    ]
    assert "Thanks," in shown[0]["definition"]["steps"][3]["body"]  # the template, inlined


def test_apply_refuses_the_whole_batch_when_one_file_is_broken(cli: Cli) -> None:
    cli.add_example_people()
    (cli.cwd / "broken.yaml").write_text("name: Broken\nsteps: []\n")
    result = cli("apply", "examples/inbound-lead.yaml", "broken.yaml")
    assert result.returncode == 1
    assert "nothing applied" in result.stderr
    assert json.loads(cli("sequences", "list", "--json").stdout) == []


def test_apply_refuses_unknown_users_by_name(cli: Cli) -> None:
    result = cli("apply", "examples/classic-email.yaml")
    assert result.returncode == 1
    assert "no user ben@example.com (owner)" in result.stderr.replace("\n", " ")
    assert json.loads(cli("sequences", "list", "--json").stdout) == []


def test_show_of_an_unknown_sequence_exits_1(cli: Cli) -> None:
    result = cli("sequences", "show", "Nope")
    assert result.returncode == 1
    assert "no sequence named 'Nope'" in result.stderr


def test_schema_is_the_definition_json_schema(cli: Cli) -> None:
    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Definition"
    assert {"name", "steps", "schedule"} <= set(schema["properties"])
