"""`cadenza contacts show|update|delete|upsert|merge`, notes and field types; lint with them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli_contacts import Cli

GUARDED = """\
name: Scored
senders: {email: sales@example.com}
steps:
  - key: hello
    action: email
    when:
      all: [{field: fields.score, op: gt, value: high}, {field: fields.tier, op: eq, value: 2}]
    subject: Hi
    body: Hello
"""


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("init")
    result = Cli(folder)("init")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def cli(tmp_path: Path, initialised: Path) -> Iterator[Cli]:
    for file in initialised.glob("cadenza.db*"):
        shutil.copyfile(file, tmp_path / file.name)
    yield Cli(tmp_path)


def _ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _show(cli: Cli, *args: str) -> dict[str, object]:
    row: dict[str, object] = json.loads(_ok(cli, "contacts", "show", *args))
    return row


def test_a_contact_is_added_shown_updated_upserted_merged_and_deleted(cli: Cli) -> None:
    assert _ok(cli, "contacts", "add", "--email", "a@x.example", "--external-id", "crm-1") == (
        "added contact 1\n"
    )
    assert _show(cli, "--external-id", "crm-1")["email"] == "a@x.example"
    out = _ok(cli, "contacts", "update", "1", "--set", "company=Acme", "--set", "fields.title=CEO")
    assert out == "contact 1: company, fields.title changed\n"
    assert _ok(cli, "contacts", "upsert", "--match-on", "external_id", "--set", "external_id=crm-1",
               "--set", "phone=3125550100") == "updated contact 1\n"  # fmt: skip
    assert _ok(cli, "contacts", "upsert", "--match-on", "email", "--set", "email=b@x.example",
               "--set", "first_name=Bea", "--set", "dnc=yes") == "added contact 2\n"  # fmt: skip
    merged = _ok(cli, "contacts", "merge", "1", "2")
    assert merged.splitlines()[:3] == [
        "merged contact 2 into contact 1",
        "filled from the duplicate: first_name",
        "flags taken from the duplicate: dnc",
    ]
    row = _show(cli, "1")
    assert (row["first_name"], row["company"], row["phone"], row["dnc"]) == (
        "Bea", "Acme", "+13125550100", True,
    )  # fmt: skip
    gone = cli("contacts", "show", "2")
    assert gone.returncode == 1 and gone.stderr.startswith("error: no contact 2")
    refused = cli("contacts", "delete", "1")
    assert refused.returncode == 1 and "add --yes" in refused.stderr
    assert _ok(cli, "contacts", "delete", "1", "--yes") == "deleted contact 1\n"
    assert cli("contacts", "show", "1").returncode == 1


def test_notes_and_field_types_from_the_cli(cli: Cli) -> None:
    _ok(cli, "contacts", "add", "--email", "a@x.example")
    assert _ok(cli, "contacts", "notes", "add", "1", "Prefers mornings") == "added note 1\n"
    [note] = json.loads(_ok(cli, "contacts", "notes", "list", "1", "--json"))
    assert note["body"] == "Prefers mornings" and note["author"] == "cli"
    assert _ok(cli, "contacts", "notes", "delete", "1", "1") == "deleted note 1\n"
    assert json.loads(_ok(cli, "contacts", "notes", "list", "1", "--json")) == []
    _ok(cli, "contacts", "fields", "define", "score", "--kind", "number")
    _ok(cli, "contacts", "fields", "define", "tier", "--kind", "choice", "--choice", "1",
        "--choice", "3")  # fmt: skip
    assert _ok(cli, "contacts", "fields", "list") == "score: number\ntier: choice (1, 3)\n"
    bad = cli("contacts", "update", "1", "--set", "fields.score=lots")
    assert bad.returncode == 1 and "'lots' is not a number" in bad.stderr
    bad_kind = cli("contacts", "fields", "define", "x", "--kind", "colour")
    assert bad_kind.returncode == 1 and "kind 'colour'" in bad_kind.stderr


def test_lint_checks_custom_fields_against_the_database_when_there_is_one(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "scored.yaml").write_text(GUARDED)
    plain = cli("lint", "scored.yaml")  # no definitions yet: nothing to check against
    assert plain.returncode == 0 and plain.stdout == "scored.yaml: ok\n"
    _ok(cli, "contacts", "fields", "define", "score", "--kind", "number")
    checked = cli("lint", "scored.yaml")
    assert checked.returncode == 1
    assert "database's definitions (score)" in checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("scored.yaml:7:50: steps[0].when.all[0].value:")
    assert "fields.score is a number field: 'high' is not a number" in lines[0]
    assert "no custom field 'tier' is defined (score)" in lines[1]
    refused = cli("apply", "scored.yaml")
    assert refused.returncode == 1 and "'high' is not a number" in refused.stdout + refused.stderr
    (tmp_path / "scored.yaml").write_text(GUARDED.replace("high", "10").replace(
        "fields.tier, op: eq, value: 2", "fields.score, op: exists"))  # fmt: skip
    assert _ok(cli, "apply", "scored.yaml").startswith("created Scored v1")
    elsewhere = Cli(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "scored.yaml").write_text(GUARDED)
    alone = elsewhere("lint", "scored.yaml")  # no database there: lint alone, no failure
    assert alone.returncode == 0 and alone.stderr == ""
    assert not (tmp_path / "empty" / "cadenza.db").exists()
