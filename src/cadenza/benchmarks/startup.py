"""How long `cadenza` takes to start and answer, each run in a fresh process."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GOAL_SECONDS = 0.3
# The console script's own two lines: a run here costs what `cadenza …` costs.
_CADENZA = "import sys; from cadenza.cli import main; sys.argv[0] = 'cadenza'; main()"
LIBRARIES = "import sqlalchemy, typer"
LIBRARIES_LABEL = "python -c 'import sqlalchemy, typer'"


@dataclass(frozen=True)
class StartupFigure:
    """One command line, its median and fastest wall time over the runs."""

    label: str
    seconds: list[float]
    goal: float | None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def meets_goal(self) -> bool | None:
        return None if self.goal is None else self.median <= self.goal


def measure(runs: int) -> list[StartupFigure]:
    """Time `--help` and two listings on a small database beside Python's and SQLAlchemy's floor."""
    with tempfile.TemporaryDirectory(prefix="cadenza-bench-cli-") as folder:
        env = os.environ | {"CADENZA_DATABASE_URL": f"sqlite:///{Path(folder) / 'small.db'}"}
        # An installed Cadenza has its byte code compiled, as SQLAlchemy's is: a run that
        # compiled every module it imports would time the compiler, not the start-up. The
        # first run (the demo) writes the byte code where a first `cadenza` run would.
        for name in ("CADENZA_AS", "CADENZA_NOW", "CADENZA_DEV_MAILBOX", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        _run([sys.executable, "-c", _CADENZA, "demo"], env)  # users, sequences, contacts
        lines = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("python -c 'import sqlalchemy'", [sys.executable, "-c", "import sqlalchemy"], None),
            # What no listing can start without: SQLAlchemy Core and Typer.
            (LIBRARIES_LABEL, [sys.executable, "-c", LIBRARIES], None),
            ("cadenza --help", [sys.executable, "-c", _CADENZA, "--help"], GOAL_SECONDS),
            (
                "cadenza sequences list --json",
                [sys.executable, "-c", _CADENZA, "sequences", "list", "--json"],
                GOAL_SECONDS,
            ),
            (
                "cadenza contacts list --json",
                [sys.executable, "-c", _CADENZA, "contacts", "list", "--json"],
                GOAL_SECONDS,
            ),
        ]
        return [
            StartupFigure(label, [_timed(argv, env) for _ in range(runs)], goal)
            for label, argv, goal in lines
        ]


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    _run(argv, env)
    return time.perf_counter() - started


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:]) or argv[-1]} failed: {done.stderr.decode()}")
