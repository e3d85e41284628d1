"""Bad input to the real `cadenza` command: one line saying what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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
BIGINT_PLUS_ONE = str(2**63)


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


# --- settings and the secret -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_production_without_a_secret_key_says_so_for_every_command(bare: Cli) -> None:
    for command in (
        ("init",),
        ("worker", "--once"),
        ("serve",),
        ("contacts", "import", "x.csv"),
        ("contacts", "list", "--json"),
        ("sequences", "list"),
    ):
        result = bare(*command, CADENZA_ENVIRONMENT="production")
        refused(result, 1, "CADENZA_SECRET_KEY must be set")


def test_an_invalid_setting_is_named_in_one_line(bare: Cli) -> None:
    for variable, value, words in (
        ("CADENZA_QUIET_HOURS_START", "23:00", ("CADENZA_QUIET_HOURS_START='23:00'", "stricter")),
        ("CADENZA_SMTP_PORT", "abc", ("CADENZA_SMTP_PORT='abc'", "integer")),
        ("CADENZA_SMS_PROVIDER", "carrier-pigeon", ("CADENZA_SMS_PROVIDER", "'twilio'")),
        ("CADENZA_WEBHOOK_ALLOW", "10.0.0.1", ("CADENZA_WEBHOOK_ALLOW", "JSON")),
    ):
        refused(bare("init", **{variable: value}), 1, *words)


def test_a_listing_checks_the_settings_that_open_the_database_and_no_other(bare: Cli) -> None:
    # A listing reads no mail, SMS or quiet-hours setting: a bad one is for the commands
    # that use it to refuse, not `contacts list`.
    bare.ok("init")
    for listing in (("contacts", "list", "--json"), ("sequences", "list", "--json")):
        assert bare.ok(*listing, CADENZA_SMTP_PORT="abc").stdout == "[]\n"
        for variable, value in (
            ("CADENZA_SQLITE_SYNCHRONOUS", "fast"),
            ("CADENZA_ENVIRONMENT", "prod"),
        ):
            refused(bare(*listing, **{variable: value}), 1, f"{variable}={value!r}")


def test_serve_refuses_the_public_development_secret_unless_development_was_chosen(
    cli: Cli,
) -> None:
    port = str(_free_port())
    for env in ({}, {"CADENZA_ENVIRONMENT": "test"}):
        line = refused(cli("serve", "--port", port, **env), 1, "CADENZA_SECRET_KEY")
        assert "CADENZA_ENVIRONMENT=development" in line and "unsubscribe" in line
    refused(cli("worker", "--batch", "10"), 1, "CADENZA_SECRET_KEY")
    # Either way out starts the server.
    for env in ({"CADENZA_ENVIRONMENT": "development"}, {"CADENZA_SECRET_KEY": "s" * 32}):
        with subprocess.Popen(
            [CADENZA, "serve", "--port", port, "--no-worker"],
            cwd=cli.folder,
            env={**cli.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as server:
            try:
                assert _answers(f"http://127.0.0.1:{port}/healthz", server)
            finally:
                server.terminate()
                server.communicate(timeout=30)


def _answers(url: str, server: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def test_worker_once_warns_when_it_sends_with_the_public_secret(enrolled: Cli) -> None:
    chosen = enrolled.ok("worker", "--once", "--now", NOW, CADENZA_ENVIRONMENT="development")
    assert "sent 1 messages" in chosen.stdout and chosen.stderr == ""
    enrolled.ok("contacts", "add", "--phone", "+13125550177", "--first-name", "Liam", "--tag", "b")
    enrolled.ok("enroll", "Hello", "--tag", "b", "--now", NOW)
    result = enrolled.ok("worker", "--once", "--now", NOW)
    assert "sent 1 messages" in result.stdout
    warning = refused(result, 0, "warning: CADENZA_SECRET_KEY is not set")
    assert "CADENZA_ENVIRONMENT=development" in warning
    assert enrolled.ok("worker", "--once", "--now", NOW).stderr == ""  # nothing sent this time


def test_the_long_running_worker_with_no_send_needs_no_secret_and_sends_nothing(
    enrolled: Cli,
) -> None:
    with subprocess.Popen(
        [CADENZA, "worker", "--no-send", "--now", NOW],
        cwd=enrolled.folder,
        env=enrolled.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        try:
            deadline = time.monotonic() + 60
            while not json.loads(enrolled.ok("messages", "list", "--json").stdout):
                assert worker.poll() is None, worker.communicate()[1]
                assert time.monotonic() < deadline, "the worker advanced nothing in 60 s"
                time.sleep(0.5)
            time.sleep(2)  # time enough to send, had it been sending
        finally:
            worker.terminate()
            worker.communicate(timeout=30)
    (message,) = json.loads(enrolled.ok("messages", "list", "--json").stdout)
    assert message["status"] == "queued"
    assert not (enrolled.folder / "sms.jsonl").exists()


# --- options, files, ids, the database ---------------------------------------------------------


def test_other_time_options_take_the_same_range_and_message(cli: Cli) -> None:
    refused(cli("history", "--since", "0001-01-01T00:00:00Z"), 2, "--since", RANGE)
    refused(cli("history", "--since", "yesterday"), 2, "--since 'yesterday'", "ISO 8601")
    start = "9999-12-31T23:00:00Z"
    refused(cli("simulate", "hello.yaml", "--start", start), 2, "--start", RANGE)
    event = cli("simulate", "hello.yaml", "--event", "replied@1800-01-01T00:00:00Z")
    refused(event, 1, "--event 'replied@1800-01-01T00:00:00Z'", RANGE)
    assert cli("history", "--since", "2026-12-01", CADENZA_NOW="").returncode == 0


def test_ids_beyond_what_the_database_holds_are_usage_errors(cli: Cli) -> None:
    for *command, largest in (
        ("event", BIGINT_PLUS_ONE, "replied", 2**63 - 1),
        ("tasks", "complete", BIGINT_PLUS_ONE, "done", 2**63 - 1),
        ("enrollments", "pause", BIGINT_PLUS_ONE, 2**63 - 1),
        ("history", "--contact", BIGINT_PLUS_ONE, 2**63 - 1),
        ("enroll", "Hello", "--contact", BIGINT_PLUS_ONE, 2**63 - 1),
        ("migrate", "Hello", "--to-version", str(2**31), 2**31 - 1),
    ):
        result = cli(*command)
        assert result.returncode == 2, (command, result.stderr)
        # The refusal names the largest value the database holds.
        assert "Traceback" not in result.stderr and str(largest) in result.stderr


def test_json_options_that_cannot_be_stored_are_refused(enrolled: Cli) -> None:
    refused(enrolled("event", "1", "replied", "--data", '{"t": "a\\u0000b"}'), 1, "NUL")
    deep = '{"a": ' * 900 + "1" + "}" * 900
    refused(enrolled("event", "1", "replied", "--data", deep), 1, "--data nests deeper")
    deeper = "[" * 50_000 + "]" * 50_000
    refused(enrolled("event", "1", "replied", "--data", deeper), 1, "--data is nested too deep")
    where = '{"not": ' * 900 + '{"tag": "web"}' + "}" * 900
    refused(enrolled("enroll", "Hello", "--where", where), 1, "--where nests deeper")
    refused(enrolled("enroll", "Hello", "--where", "[1]"), 1, "--where is not a condition")
    assert enrolled.ok("history", "--json", "--type", "replied").stdout.strip() == "[]"


def test_simulate_contact_files_that_cannot_be_read_are_named(bare: Cli) -> None:
    (bare.folder / "latin1.json").write_bytes(b'{"first_name": "Ren\xe9"}')
    (bare.folder / "folder").mkdir()
    for given, why in (
        ("latin1.json", "not UTF-8"),
        ("folder", "Is a directory"),
        ("missing.json", "No such file"),
    ):
        refused(bare("simulate", "hello.yaml", "--contact", given), 1, repr(given), why)
    long_json = '{"first_name": "' + "a" * 300 + '"}'
    assert bare.ok("simulate", "hello.yaml", "--contact", long_json).stdout


def test_a_database_that_is_missing_or_unreachable_is_named(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    line = refused(cli("sequences", "list"), 1, "cadenza.db", "run `cadenza init`")
    assert "no such table" in line
    bad_url = {"CADENZA_DATABASE_URL": "not a url"}
    refused(cli("contacts", "list", **bad_url), 1, "CADENZA_DATABASE_URL")
    (tmp_path / "a-file").touch()
    nowhere = {"CADENZA_DATABASE_URL": f"sqlite:///{tmp_path / 'a-file' / 'cadenza.db'}"}
    refused(cli("contacts", "list", **nowhere), 1, "cannot use the database")
    port = cli("serve", "--port", "70000", CADENZA_ENVIRONMENT="development")
    assert port.returncode == 2 and "Traceback" not in port.stderr and "65535" in port.stderr


def test_intake_on_a_taken_port_says_so(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused(cli("intake", "--port", port), 1, f"cannot listen on 127.0.0.1:{port}")


def test_an_unknown_status_is_named_rather_than_an_empty_list(cli: Cli) -> None:
    for listing, word in (
        ("tasks", "tasks"),
        ("enrollments", "enrollments"),
        ("messages", "messages"),
    ):
        result = cli(listing, "list", "--status", "opne")
        message = refused(result, 1, "'opne' is not a status of", word)
        assert "one of" in message
