"""`cadenza bench …` runs to the end on a small load and prints figures that add up.

A benchmark is a command, not a timed test: these runs check only that each one finishes
and reports what it says it measured, so a change that breaks a benchmark is caught here
rather than on the day someone needs the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CADENZA = str(Path(sys.executable).parent / "cadenza")

pytestmark = pytest.mark.slow


def bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    done = subprocess.run(
        [CADENZA, "bench", *args, "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def test_bench_engine_measures_every_figure(tmp_path: Path) -> None:
    figures = bench(tmp_path, "engine", "--contacts", "1000", "--pending", "1000")
    assert figures["contacts"] == 1000
    assert figures["enroll_per_s"] > 0 and figures["steps_per_s"] > 0
    assert figures["ceiling_per_s"] > 0
    assert 0 <= figures["lateness_p50_s"] <= figures["lateness_p99_s"]
    assert len(figures["tick_ms"]) == 4 and all(v > 0 for v in figures["tick_ms"].values())
    assert len(figures["memory_mib"]) == 2


def test_bench_email_sends_every_email_and_paces(tmp_path: Path) -> None:
    figures = bench(tmp_path, "email", "--emails", "100")
    assert figures["emails"] == 100 and figures["per_second"] > 0
    assert figures["pacing_measured"] == pytest.approx(figures["pacing_rate"], rel=0.2)


def test_bench_import_reports_the_bad_rows(tmp_path: Path) -> None:
    figures = bench(tmp_path, "import", "--rows", "1000")
    assert figures["rows"] == 1000 and figures["rejected"] == 50
    assert figures["imported"] > 900 and figures["value"] > 0


def test_bench_steps_measures_every_kind_and_the_events(tmp_path: Path) -> None:
    figures = bench(tmp_path, "steps", "--contacts", "500", "--opens", "1000", "--replies", "500")
    assert len(figures["steps_per_s"]) == 11 and all(v > 0 for v in figures["steps_per_s"].values())
    # Three steps per contact for every kind but the call task, which waits for a person.
    assert figures["steps_run"]["add_tag"] == 1500 and figures["steps_run"]["call task"] == 500
    assert figures["steps_run"]["realistic mix"] == 500 * 9
    assert figures["mix_per_s"] > 0 and figures["ceiling_per_s"] > 0
    assert figures["opens_per_s"] > 0 and figures["replies_exited"] == 500
