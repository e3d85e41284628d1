"""A user's path through the engine with the real `cadenza` command and a fixed clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CADENZA = str(Path(sys.executable).parent / "cadenza")
LEAD = """
name: Lead
owner: ana@example.com
senders: {email: sales@example.com, sms: "+13125550100"}
schedule: {timezone: contact, days: business, hours: {open: "09:00", close: "17:00"}}
exit: {on: [replied]}
steps:
  - {key: intro_sms, action: sms, body: "Hi [FirstName], thanks for reaching out!"}
  - key: first_call
    action: call
    wait: {days: 1, at: "10:00"}
    assignee: contact_owner
  - {key: follow_up, action: email, wait: {business_days: 2}, subject: "Hi", body: "<p>x</p>"}
"""
CONTACTS = (
    "first_name,last_name,email,phone,timezone,owner,tags\n"
    "Maya,Patel,maya@example.com,(312) 555-0134,America/Chicago,ana@example.com,web\n"
    "Liam,Ng,liam@example.com,(617) 555-0109,,ana@example.com,web\n"
)


class Cli:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
        self.env["CADENZA_DATABASE_URL"] = f"sqlite:///{folder / 'cadenza.db'}"

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [CADENZA, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    (tmp_path / "lead.yaml").write_text(LEAD)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    run("init")
    run("users", "add", "ana@example.com", "--name", "Ana Alvarez")
    run("apply", "lead.yaml")
    run("contacts", "import", "contacts.csv")
    return run


def test_enroll_advance_complete_and_read_the_history(cli: Cli) -> None:
    enrolled = cli("enroll", "Lead", "--tag", "web", "--now", "2026-12-01T15:00:00Z")
    assert "enrolled 2" in enrolled.stdout
    cli("worker", "--once", "--no-send", "--now", "2026-12-01T15:00:00Z")
    texts = cli.json("messages", "list")
    assert {m["to"] for m in texts} == {"+13125550134", "+16175550109"}
    assert all(m["body"].startswith("Hi Maya") or m["body"].startswith("Hi Liam") for m in texts)
    assert {"id", "key", "channel", "to", "status", "step", "contact_id"} <= set(texts[0])

    cli("worker", "--once", "--no-send", "--now", "2026-12-02T16:00:00Z")  # 10:00 Chicago
    tasks = cli.json("tasks", "list", "--status", "open")
    assert {t["step"] for t in tasks} == {"first_call"} and len(tasks) == 2
    maya_task = tasks[0]
    assert maya_task["assignee"] == "ana@example.com" and maya_task["kind"] == "call"
    cli("tasks", "complete", str(maya_task["id"]), "interested", "--now", "2026-12-02T16:10:00Z")

    rows = {e["contact_id"]: e for e in cli.json("enrollments", "list", "--sequence", "Lead")}
    assert {
        "id",
        "sequence",
        "contact_id",
        "status",
        "step",
        "due_at",
        "outcome",
        "exit_reason",
    } <= set(next(iter(rows.values())))
    assert (rows[maya_task["contact_id"]]["status"], rows[maya_task["contact_id"]]["outcome"]) == (
        "completed",
        "positive",
    )

    other = next(c for c in rows if c != maya_task["contact_id"])
    cli("event", str(other), "replied", "--now", "2026-12-02T17:00:00Z")
    assert cli.json("enrollments", "list", "--status", "exited")[0]["contact_id"] == other
    history = cli.json("history", "Lead", "--contact", str(other))
    types = [h["type"] for h in history]
    assert types[0] == "enrolled" and types[-1] == "exited"
    assert {"time", "type", "sequence", "contact_id", "step", "reason", "data"} <= set(history[0])


def test_simulate_prints_rows_and_how_it_ends(cli: Cli) -> None:
    contact = json.dumps(
        {
            "first_name": "Lee",
            "phone": "+13105550100",
            "timezone": "America/Los_Angeles",
            "email": "lee@example.com",
        }
    )
    rows = cli.json(
        "simulate",
        "lead.yaml",
        "--contact",
        contact,
        "--start",
        "2026-12-04T18:00:00-08:00",
        "--event",
        "replied@2026-12-08T12:00:00-08:00",
    )
    first = next(r for r in rows if r["step"] == "intro_sms")
    assert first["local_time"].startswith("2026-12-07T09:00")
    assert first["utc_time"] == "2026-12-07T17:00:00+00:00"
    assert any("Monday" in reason for reason in first["reasons"])
    assert {"step", "action", "local_time", "utc_time", "reasons"} <= set(first)
    assert rows[-1]["ending"].startswith("exited: replied")


def test_bad_input_is_refused_with_a_message_and_exit_1(cli: Cli) -> None:
    bad = cli("simulate", "lead.yaml", "--event", "replied-yesterday", ok=False)
    assert bad.returncode == 1 and "NAME@ISO" in bad.stderr and "Traceback" not in bad.stderr
    unknown = cli("enroll", "Nope", "--contact", "1", ok=False)
    assert unknown.returncode == 1 and "Nope" in unknown.stderr
    outcome = cli("tasks", "complete", "999", "interested", ok=False)
    assert outcome.returncode == 1 and "999" in outcome.stderr
    usage = cli("enroll", "Lead", ok=False)
    assert usage.returncode == 2


def test_event_data_is_data_whatever_its_keys(cli: Cli) -> None:
    cli("event", "1", "replied", "--data", '{"subject": "Re: hi", "step": "x", "actor": "y"}')
    (row,) = [h for h in cli.json("history", "--contact", "1") if h["type"] == "replied"]
    assert row["data"]["subject"] == "Re: hi" and row["actor"] == "cli"
