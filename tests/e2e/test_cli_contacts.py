"""`cadenza contacts import|list|add`, `users` and `groups`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CADENZA = str(Path(sys.executable).parent / "cadenza")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "csv"
ROW_KEYS = {
    "id", "first_name", "last_name", "email", "phone", "timezone", "company", "owner",
    "lead_source", "disposition", "tags", "fields", "dnc", "sms_opted_out",
    "email_unsubscribed", "email_bounced", "external_id", "last_contacted_at",
    "last_contacted_mode", "last_activity_type", "last_activity_at",
}  # fmt: skip


class Cli:
    def __init__(self, folder: Path) -> None:
        self.cwd = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = f"sqlite:///{folder / 'cadenza.db'}"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CADENZA, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cadenza init` once; each test gets a copy of the database."""
    folder = tmp_path_factory.mktemp("init")
    result = Cli(folder)("init")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def cli(tmp_path: Path, initialised: Path) -> Iterator[Cli]:
    for file in initialised.glob("cadenza.db*"):
        shutil.copyfile(file, tmp_path / file.name)
    for file in FIXTURES.iterdir():
        shutil.copyfile(file, tmp_path / file.name)
    yield Cli(tmp_path)


def test_import_reports_rejected_rows_and_exits_0(cli: Cli) -> None:
    assert cli("users", "add", "ana@example.com", "--name", "Ana").returncode == 0
    result = cli("contacts", "import", "mixed.csv", "--tag", "spring")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("row 5: E-mail: 'dev@example' is not a valid email address")
    assert lines[0].endswith("Mobile: '555-12' is not a valid phone number")
    assert "row 7: Owner: no user 'nobody@example.com'" in lines
    assert lines[-1] == "imported 3, updated 0, rejected 5 (see mixed.rejects.csv)"
    assert (cli.cwd / "mixed.rejects.csv").is_file()
    again = cli("contacts", "import", "mixed.csv")
    assert again.stdout.splitlines()[-1].startswith("imported 0, updated 3, rejected 5")


def test_list_json_rows_have_the_contact_shape(cli: Cli) -> None:
    cli("contacts", "import", "semicolons.csv", "--map", "phone=Work Line")
    result = cli("contacts", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    assert set(rows[0]) == ROW_KEYS
    assert rows[0]["phone"] == "+13125550123"
    assert rows[0]["fields"] == {"job_title": "Buyer"}


def test_only_twenty_rejections_are_printed(cli: Cli) -> None:
    lines = ["email,phone"] + [f"bad{i}@,1{i}" for i in range(25)] + ["ok@example.com,"]
    (cli.cwd / "many.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("contacts", "import", "many.csv")
    assert result.returncode == 0
    out = result.stdout.splitlines()
    assert sum(line.startswith("row ") for line in out) == 20
    assert "… and 5 more" in out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("image.csv", "error: image.csv is not a CSV file (it is binary)"),
        ("no_usable_column.csv", "error: no_usable_column.csv has no usable column"),
        ("missing.csv", "error: cannot read missing.csv"),
    ],
)
def test_refused_files_exit_1_with_a_message(cli: Cli, name: str, message: str) -> None:
    result = cli("contacts", "import", name)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr
    assert json.loads(cli("contacts", "list", "--json").stdout) == []


def test_nothing_importable_exits_1(cli: Cli) -> None:
    result = cli("contacts", "import", "all_bad.csv")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("imported 0, updated 0, rejected 2")


def test_a_malformed_map_is_a_usage_error(cli: Cli) -> None:
    assert cli("contacts", "import", "mixed.csv", "--map", "phone").returncode == 2


def test_add_contact_and_users_and_groups(cli: Cli) -> None:
    assert cli("users", "add", "ana@example.com").returncode == 0
    assert cli("users", "add", "ben@example.com", "--role", "manager").returncode == 0
    assert cli("users", "add", "ana@example.com").returncode == 1
    result = cli(
        "groups", "add", "sales", "--member", "ben@example.com", "--member", "ana@example.com"
    )
    assert result.stdout.strip() == "group sales: ben@example.com, ana@example.com"
    refused = cli("groups", "add", "sales", "--member", "zoe@example.com")
    assert (refused.returncode, "zoe@example.com" in refused.stderr) == (1, True)
    groups = json.loads(cli("groups", "list", "--json").stdout)
    assert groups == [{"id": 1, "name": "sales", "members": ["ben@example.com", "ana@example.com"]}]
    users = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["email"], u["role"]) for u in users] == [
        ("ana@example.com", "agent"),
        ("ben@example.com", "manager"),
    ]
    added = cli("contacts", "add", "--email", "zoe@example.com", "--owner", "ana@example.com",
                "--tag", "vip", "--field", "title=CTO")  # fmt: skip
    assert added.returncode == 0, added.stderr
    (row,) = json.loads(cli("contacts", "list", "--json", "--tag", "vip").stdout)
    assert (row["owner"], row["fields"]) == ("ana@example.com", {"title": "CTO"})
    assert cli("contacts", "add", "--email", "ZOE@example.com").returncode == 1
