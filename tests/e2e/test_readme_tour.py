"""The README's tour runs exactly as written on a fresh clone: read from the README itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def tour_commands() -> list[str]:
    """The shell lines of the README's "A five-minute tour", continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip()]


def test_the_tour_is_there_to_run() -> None:
    commands = tour_commands()
    assert commands[0] == ". .venv/bin/activate"
    assert any(line.startswith("cadenza tasks complete 1 interested") for line in commands)


@pytest.mark.slow
def test_the_readme_tour_runs_as_written_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copytree(ROOT / "examples", clone / "examples")
    # The clone's .venv is this one (what `make run` and `make test` build).
    (clone / ".venv").symlink_to(Path(sys.executable).parents[1])
    script = "set -euo pipefail\n" + "\n".join(tour_commands()) + "\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "created Inbound lead follow-up v1" in out
    assert re.search(r"enrolled \d+ into Inbound lead follow-up", out)
    assert "task 1 done: interested" in out
    assert "recorded replied for contact 2" in out
    # What the tour did is where `make run` serves it from.
    assert (clone / "var" / "cadenza.db").is_file()
    assert (clone / "var" / "sms-sink.jsonl").read_text().count("\n") >= 1
    assert re.search(r"completed .*ended positive at step first_call", out)
    assert re.search(r"exited .*replied at 2026-12-02T18:30:00", out)
