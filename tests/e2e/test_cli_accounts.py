"""`cadenza accounts …`, `cadenza views …` and audiences as an operator runs them: an import
that matches accounts by domain, a view listing contacts, an account and a view enrolled, an
audience picking up a contact added after the sequence started; bad input refused cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli_users import Cli

AUDIENCE = """\
name: Webinar follow-up
senders: {email: sales@example.com}
enrollment:
  audience: {view: Webinar}
  every: {minutes: 15}
steps:
  - {key: hello, action: email, wait: {days: 1}, subject: Hi, body: Thanks}
"""


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    assert runner("init").returncode == 0
    yield runner


def _ok(cli: Cli, *args: str) -> str:
    done = cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return str(done.stdout)


def test_accounts_views_and_an_audience_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    _ok(cli, "users", "add", "ben@example.com", "--role", "manager")
    _ok(cli, "accounts", "add", "Acme", "--domain", "acme.com", "--owner", "ben@example.com")
    people = tmp_path / "people.csv"
    people.write_text("email,tags\nbo@acme.com,webinar\ncy@gmail.com,webinar\ndi@acme.com,\n")
    imported = _ok(cli, "contacts", "import", str(people), "--match-accounts")
    assert "2 joined an account by their email's domain" in imported
    shown = json.loads(_ok(cli, "accounts", "show", "Acme", "--json"))
    assert sorted(c["email"] for c in shown["contact_rows"]) == ["bo@acme.com", "di@acme.com"]

    _ok(cli, "views", "add", "Webinar", "--where", "{tag: webinar}", "--sharing", "everyone")
    listed = json.loads(_ok(cli, "contacts", "list", "--view", "Webinar", "--json"))
    assert [c["email"] for c in listed] == ["bo@acme.com", "cy@gmail.com"]

    definition = tmp_path / "audience.yaml"
    definition.write_text(AUDIENCE)
    _ok(cli, "apply", str(definition))
    _ok(cli, "worker", "--once", "--no-send")
    later = tmp_path / "later.csv"
    later.write_text("email,tags\nel@acme.com,webinar\n")
    _ok(cli, "contacts", "import", str(later))
    _ok(cli, "worker", "--once", "--no-send")
    enrolled = json.loads(_ok(cli, "enrollments", "list", "--json"))
    assert sorted(e["contact_id"] for e in enrolled) == [1, 2, 4]

    account = cli("enroll", "Webinar follow-up", "--account", "Acme")
    assert account.returncode == 0
    assert "enrolled 0 into Webinar follow-up; refused 2" in account.stdout
    assert "not in the sequence's audience (view Webinar: tagged webinar)" in account.stderr

    for args, message in (
        (("accounts", "add", "Other", "--domain", "gmail.com"), "free-mail domain"),
        (("accounts", "add", "Other", "--domain", "acme.com"), "belongs to account 'Acme'"),
        (("views", "add", "Bad", "--where", "{nope: 1}"), "not a condition"),
        (("contacts", "list", "--view", "Nowhere"), "no contacts view named 'Nowhere'"),
        (("enroll", "Webinar follow-up", "--account", "Nowhere"), "no account 'Nowhere'"),
    ):
        refused = cli(*args)
        assert refused.returncode == 1, (args, refused.stdout)
        assert message in refused.stderr and "Traceback" not in refused.stderr
