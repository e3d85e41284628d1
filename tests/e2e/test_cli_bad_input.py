"""Bad input to the real `cadenza` command: one line saying what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CADENZA = str(Path(sys.executable).parent / "cadenza")
HELLO = """
name: Hello
senders: {sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hi, action: sms, body: "Hi {{ contact.first_name }}"}
"""
CONTACTS = "first_name,phone,tags\nMaya,(312) 555-0134,web\n"
NOW = "2026-12-01T16:00:00Z"  # 10:00 in Chicago
RANGE = "between 1900-01-01 and 2200-01-01 UTC"


class Cli:
    """`cadenza` in a folder of its own, with its own SQLite database and nothing else set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = f"sqlite:///{folder / 'cadenza.db'}"
        self.env["CADENZA_SMS_SINK_PATH"] = str(folder / "sms.jsonl")

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CADENZA, *args],
            cwd=self.folder,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = self(*args, **env)
        assert result.returncode == 0, result.stderr
        return result


@pytest.fixture
def bare(tmp_path: Path) -> Cli:
    """No database yet: settings and the clock are checked before any is opened."""
    (tmp_path / "hello.yaml").write_text(HELLO)
    return Cli(tmp_path)


@pytest.fixture
def cli(bare: Cli) -> Cli:
    bare.ok("init")
    return bare


@pytest.fixture
def enrolled(cli: Cli) -> Cli:
    """One contact enrolled in a one-text sequence, its text due at NOW."""
    (cli.folder / "contacts.csv").write_text(CONTACTS)
    cli.ok("apply", "hello.yaml")
    cli.ok("contacts", "import", "contacts.csv")
    cli.ok("enroll", "Hello", "--tag", "web", "--now", NOW)
    return cli


def refused(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The one line a refused command printed on stderr, checked for `words`."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# --- the clock -------------------------------------------------------------------------------


def test_a_bad_now_is_a_usage_error_naming_the_value(enrolled: Cli) -> None:
    for command, value, words in (
        (("worker", "--once"), "soon", ("--now 'soon' is not an ISO 8601 time", "2026-12-01")),
        (("enroll", "Hello", "--tag", "web"), "0001-01-01T00:00:00Z", (RANGE,)),
        (("worker", "--once"), "9999-12-31T23:00:00Z", ("'9999-12-31T23:00:00Z'", RANGE)),
        (("sequences", "list"), "", ("--now ''", "ISO 8601")),
    ):
        refused(enrolled(*command, "--now", value), 2, *words)
    (row,) = json.loads(enrolled.ok("enrollments", "list", "--json").stdout)
    assert (row["status"], row["step"]) == ("active", "hi")  # nothing ran


def test_cadenza_now_is_checked_like_now(bare: Cli) -> None:
    refused(bare("worker", "--once", CADENZA_NOW="next tuesday"), 2, "CADENZA_NOW", "ISO 8601")
    refused(bare("contacts", "list", CADENZA_NOW="0001-01-01T00:00:00+05:00"), 2, RANGE)
