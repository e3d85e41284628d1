"""`contacts list` and `sequences list` read through SQLAlchemy Core, as the operator: the
CLI is an admin whoever `--as` names, so an agent's name does not narrow them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CADENZA = str(Path(sys.executable).parent / "cadenza")
PRIVATE = """\
name: Bo's private
owner: bo@example.com
sharing: {mode: private, access: view}
senders: {email: sales@example.com}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: Hi, body: "<p>Hello</p>"}
"""


def test_an_agent_named_by_as_still_lists_what_the_operator_sees(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cadenza.db'}"

    def run(*args: str, **extra: str) -> str:
        done = subprocess.run(
            [CADENZA, *args], cwd=tmp_path, env=env | extra, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init")
    for email, role in (("ana@example.com", "agent"), ("bo@example.com", "agent")):
        run("users", "add", email, "--role", role)
    (tmp_path / "private.yaml").write_text(PRIVATE)
    run("apply", "private.yaml")
    run("contacts", "add", "--email", "maya@example.com", "--owner", "bo@example.com")

    for listing in (("sequences", "list", "--json"), ("contacts", "list", "--json")):
        operator = run(*listing)
        assert json.loads(operator)  # Bo's private sequence, Bo's contact
        assert run("--as", "ana@example.com", *listing) == operator
        assert run(*listing, CADENZA_AS="ana@example.com") == operator
    (sequence,) = json.loads(run("sequences", "list", "--json"))
    assert (sequence["name"], sequence["owner"], sequence["sharing"]) == (
        "Bo's private",
        "bo@example.com",
        "private",
    )
