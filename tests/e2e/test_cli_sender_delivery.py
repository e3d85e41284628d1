"""`cadenza senders dkim|provider|warmup|stagger|pause|resume|show` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_bad_input import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    running = Cli(tmp_path)
    running.ok("init")
    running.ok("senders", "add", "email", "sales@acme.example", "--per-day", "500")
    return running


def test_dkim_prints_the_record_to_publish_and_show_lists_it(cli: Cli) -> None:
    made = cli.ok("senders", "dkim", "sales@acme.example", "--selector", "s2026").stdout
    lines = made.splitlines()
    assert lines[1] == "s2026._domainkey.acme.example TXT"
    assert lines[2].startswith("v=DKIM1; k=rsa; p=") and len(lines[2]) > 300  # 2048 bits
    shown = json.loads(cli.ok("senders", "show", "sales@acme.example", "--json").stdout)
    assert shown["dkim_record"]["value"] == lines[2] and shown["dkim_selector"] == "s2026"
    assert "BEGIN" not in made and "PRIVATE" not in json.dumps(shown)  # the key stays inside


def test_a_provider_takes_variable_names_never_secrets(cli: Cli) -> None:
    refused = cli("senders", "provider", "1", "mailgun", "--set", "domain=mg.acme.example",
                  "--set", "api_key_env=key-3ax6xnjp29jd6fds4gc373sgvjxteol0")  # fmt: skip
    assert refused.returncode == 1 and "never the secret itself" in refused.stderr
    assert "Traceback" not in refused.stderr
    cli.ok("senders", "provider", "1", "mailgun", "--set", "domain=mg.acme.example",
           "--set", "api_key_env=MAILGUN_API_KEY")  # fmt: skip
    unknown = cli("senders", "provider", "1", "sparkpost")
    assert unknown.returncode == 1 and "not one of smtp, mailgun" in unknown.stderr
    shown = cli.ok("senders", "show", "1").stdout
    assert "provider: mailgun (domain=mg.acme.example, api_key_env=MAILGUN_API_KEY)" in shown


def test_warm_up_stagger_and_pause_show_in_the_listing(cli: Cli) -> None:
    cli.ok("senders", "warmup", "1", "--start", "20", "--step", "10", "--since", "2026-12-01")
    cli.ok("senders", "stagger", "1", "45")
    cli.ok("senders", "pause", "1", "--reason", "new domain")
    (row,) = json.loads(cli.ok("senders", "list", "--json").stdout)
    assert row["warmup"] == {"start": 20, "step": 10, "every_days": 1, "since": "2026-12-01"}
    assert row["stagger_seconds"] == 45 and row["paused"] and row["paused_reason"] == "new domain"
    assert row["health"]["sent"] == 0 and row["health"]["window_days"] == 30
    history = json.loads(cli.ok("history", "--type", "sender_paused", "--json").stdout)
    assert history[0]["reason"] == "sender sales@acme.example paused: new domain"
    cli.ok("senders", "resume", "sales@acme.example")
    assert "status: sending" in cli.ok("senders", "show", "1").stdout
    bad = cli("senders", "warmup", "1", "--start", "5", "--since", "yesterday")
    assert bad.returncode == 1 and "is not a date" in bad.stderr
    missing = cli("senders", "show", "nobody@acme.example")
    assert missing.returncode == 1 and "no sender 'nobody@acme.example'" in missing.stderr
