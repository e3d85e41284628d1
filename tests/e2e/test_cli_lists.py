"""`cadenza lists …` and `cadenza domains …` as an operator runs them: a list a sequence
serves enrolls and pauses by it; bad input is refused on stderr with exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli_users import Cli

ROLLUP = """
name: Rollup
senders: {email: sales@example.com}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
enrollment: {list: Hot leads}
steps:
  - {key: hello, action: email, wait: {days: 1}, subject: Hi, body: "<p>Hello</p>"}
"""


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    assert runner("init").returncode == 0
    yield runner


def test_an_operator_keeps_a_list_a_sequence_serves(cli: Cli, tmp_path: Path) -> None:
    definition = tmp_path / "rollup.yaml"
    definition.write_text(ROLLUP, encoding="utf-8")
    refused = cli("apply", str(definition))
    assert refused.returncode == 1 and "no list 'Hot leads'" in refused.stderr
    assert cli("lists", "add", "Hot leads").returncode == 0
    assert cli("apply", str(definition)).returncode == 0
    assert cli("demo").returncode == 0

    added = cli("lists", "members", "add", "Hot leads", "--tag", "web-lead", "--json")
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert report["sequence"] == "Rollup" and report["enrolled"] == report["changed"]
    first = report["changed"][0]
    removed = cli("lists", "members", "remove", "Hot leads", "--contact", str(first))
    assert (
        removed.returncode == 0 and "1 removed" in removed.stdout and "1 paused" in removed.stdout
    )
    paused = json.loads(cli("enrollments", "list", "--sequence", "Rollup", "--status", "paused",
                            "--json").stdout)  # fmt: skip
    assert [row["contact_id"] for row in paused] == [first]
    back = cli("lists", "members", "add", "Hot leads", "--contact", str(first))
    assert "1 resumed" in back.stdout

    listed = json.loads(cli("lists", "list", "--json").stdout)
    assert listed[0]["name"] == "Hot leads" and listed[0]["sequence"] == "Rollup"
    shown = cli("lists", "show", "Hot leads")
    assert "serves Rollup" in shown.stdout
    busy = cli("lists", "delete", "Hot leads")
    assert busy.returncode == 1 and "serves the active sequence 'Rollup'" in busy.stderr
    missing = cli("lists", "members", "add", "Nope", "--contact", "1")
    assert missing.returncode == 1 and "no list 'Nope'" in missing.stderr
    assert "Traceback" not in missing.stderr + busy.stderr + refused.stderr


def test_an_operator_blocks_a_domain(cli: Cli) -> None:
    blocked = cli("domains", "block", "ACME.example", "--reason", "legal")
    assert blocked.returncode == 0 and "blocked acme.example" in blocked.stdout
    assert json.loads(cli("domains", "list", "--json").stdout)[0]["reason"] == "legal"
    bad = cli("domains", "block", "not a domain")
    assert bad.returncode == 1 and "is not a domain" in bad.stderr
    assert cli("domains", "unblock", "acme.example").returncode == 0
    again = cli("domains", "unblock", "acme.example")
    assert again.returncode == 1 and "not on the do-not-contact list" in again.stderr
