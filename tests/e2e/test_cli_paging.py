"""CLI listings show `--limit` rows and say on stderr when that is part of the list; `--all`
shows every row; `--json` keeps stdout one JSON array."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_engine import Cli

COUNT = 130
TODO = """
name: Research
owner: ana@example.com
schedule: {timezone: UTC, days: every_day, hours: {open: "00:00", close: "23:59"}}
steps:
  - {key: todo, action: task, title: "Research the account", assignee: initiator}
"""
NOW = "2026-12-01T15:00:00Z"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """130 contacts tagged `web`, enrolled, each with an open task (built once: read-only)."""
    folder = tmp_path_factory.mktemp("paging")
    run = Cli(folder)
    rows = "".join(f"Pat{i},Lee,pat{i}@example.com,web\n" for i in range(COUNT))
    (folder / "contacts.csv").write_text("first_name,last_name,email,tags\n" + rows)
    (folder / "todo.yaml").write_text(TODO)
    run("init")
    run("users", "add", "ana@example.com")
    run("apply", "todo.yaml")
    run("contacts", "import", "contacts.csv")
    run("enroll", "Research", "--tag", "web", "--as", "ana@example.com", "--now", NOW)
    run("worker", "--once", "--no-send", "--now", NOW)
    return run


def test_a_listing_shows_its_limit_and_says_how_many_there_are(cli: Cli) -> None:
    result = cli("tasks", "list", "--json")
    assert len(json.loads(result.stdout)) == 100  # the default page; stdout is only the array
    assert result.stderr.strip() == f"showing 100 of {COUNT}; --all for everything"
    limited = cli("contacts", "list", "--limit", "7")
    assert limited.stdout.count("@example.com") == 7
    assert f"showing 7 of {COUNT}; --all for everything" in limited.stderr


def test_all_shows_every_row_once_and_no_notice(cli: Cli) -> None:
    result = cli("enrollments", "list", "--all", "--json")
    rows = json.loads(result.stdout)
    assert len(rows) == COUNT == len({row["id"] for row in rows}) and result.stderr == ""
    table = cli("contacts", "list", "--all")
    assert table.stdout.count("@example.com") == COUNT and table.stderr == ""
    everything = cli("history", "--all", "--json")
    events = json.loads(everything.stdout)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert len([e for e in events if e["type"] == "task_created"]) == COUNT


def test_a_whole_list_within_the_limit_says_nothing_more(cli: Cli) -> None:
    result = cli("tasks", "list", "--limit", "1000", "--json")
    assert len(json.loads(result.stdout)) == COUNT and result.stderr == ""
    assert json.loads(cli("sequences", "list", "--json").stdout)[0]["name"] == "Research"


def test_history_shows_the_latest_events_oldest_first(cli: Cli) -> None:
    every = json.loads(cli("history", "--all", "--json").stdout)
    result = cli("history", "--limit", "5", "--json")
    assert json.loads(result.stdout) == every[-5:]
    assert result.stderr.strip() == "showing the latest 5; more available; --all for everything"
    one = cli("history", "--contact", "1", "--limit", "1", "--json")
    assert "showing the latest 1 of " in one.stderr  # one contact's events are counted


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("tasks", "list", "--limit", "0"), 2, "--limit"),
        (("tasks", "list", "--limit", "1001"), 2, "--limit"),
        (
            ("tasks", "list", "--status", "opne"),
            1,
            "status: 'opne' is not a status of tasks (one of open",
        ),
        (("enrollments", "list", "--sequence", "Nope"), 1, "sequence: no sequence named 'Nope'"),
        (("history", "--type", "telepathy"), 1, "type: 'telepathy'"),
        (("messages", "list", "--channel", "fax"), 1, "channel: 'fax'"),
    ],
)
def test_bad_paging_or_filters_are_refused_without_a_traceback(
    cli: Cli, args: tuple[str, ...], code: int, said: str
) -> None:
    result = cli(*args, ok=False)
    assert result.returncode == code and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_module_database_is_where_the_cli_wrote_it(cli: Cli) -> None:
    assert Path(cli.folder, "cadenza.db").exists()
