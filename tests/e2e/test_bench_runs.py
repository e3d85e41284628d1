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
    figures = bench(
        tmp_path,
        "steps",
        *("--contacts", "500", "--opens", "1000", "--replies", "500", "--rounds", "2"),
    )
    assert len(figures["steps_per_s"]) == 11 and all(v > 0 for v in figures["steps_per_s"].values())
    # Three steps per contact for every kind but the call task, which waits for a person;
    # each kind's best round is the one kept.
    assert figures["steps_run"]["add_tag"] == 1500 and figures["steps_run"]["call task"] == 500
    assert figures["steps_run"]["realistic mix"] == 500 * 9
    assert figures["mix_per_s"] > 0 and figures["ceiling_per_s"] > 0
    assert figures["opens_per_s"] > 0 and figures["replies_exited"] == 500
    # The webhook kind's webhooks were delivered, each one, to a receiver on loopback.
    assert figures["webhooks_queued"] == 1500 and figures["webhooks_delivered"] == 1500
    assert figures["deliveries_per_s"] > 0


def test_bench_cli_times_each_command_line(tmp_path: Path) -> None:
    figures = bench(tmp_path, "cli", "--runs", "1")
    assert [f["figure"] for f in figures] == [
        "python -c pass",
        "python -c 'import sqlalchemy'",
        "python -c 'import sqlalchemy, typer'",
        "cadenza --help",
        "cadenza sequences list --json",
        "cadenza contacts list --json",
    ]
    assert all(f["median_ms"] > 0 and f["runs"] == 1 for f in figures)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_bench_api_loads_the_api_while_a_burst_drains(tmp_path: Path, db: str) -> None:
    figures = bench(
        tmp_path, "api", "--db", db, "--clients", "3", "--seconds", "3", "--burst", "300"
    )
    assert figures["errors"] == 0
    operations = figures["operations"]
    assert (
        operations["all requests"]["count"]
        == sum(v["count"] for k, v in operations.items() if k != "all requests")
        > 0
    )
    assert 0 < operations["all requests"]["p50_ms"] <= operations["all requests"]["p99_ms"]
    assert 0 <= figures["drained"] <= 300
    assert figures["tasks_done"] > 0  # the clients' tasks can be completed


def test_bench_audiences_enrolls_exactly_the_new_matches(tmp_path: Path) -> None:
    figures = bench(tmp_path, "audiences", "--contacts", "5000", "--matches", "100")
    assert figures["contacts"] == 5000 and figures["first_enrolled"] == 50
    assert figures["enrolled"] == [100, 100, 100]  # the bench fails unless exactly those
    assert all(ms > 0 for ms in figures["changed_ms"] + figures["unchanged_ms"])
    assert figures["changed_best_ms"] == min(figures["changed_ms"])


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_bench_engine_scale_pending_measures_each_count(tmp_path: Path, db: str) -> None:
    figures = bench(tmp_path, "engine", "--db", db, "--scale-pending", "2k,0")
    rows = figures["rows"]
    assert [row["pending"] for row in rows] == [0, 2000]  # the smallest first: the reference
    for row in rows:
        assert row["empty_tick_ms"] > 0 and row["claim_ms"] > 0 and row["memory_mib"] > 0
    assert rows[0]["ratios"] == {"empty_tick": 1.0, "claim": 1.0, "memory": 1.0}
    assert rows[1]["ratios"]["claim"] == pytest.approx(rows[1]["claim_ms"] / rows[0]["claim_ms"])


def test_bench_engine_scale_pending_prints_a_row_per_count(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    command = [CADENZA, "bench", "engine", "--scale-pending", "0,1500"]
    done = subprocess.run(
        command, cwd=tmp_path, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if " ms (" in line]
    assert [line.split()[1] for line in lines] == ["0", "1,500"]
    assert "1.00 times" in lines[0] and "MiB" in lines[1]


def test_bench_engine_scale_pending_refuses_what_is_not_a_count(tmp_path: Path) -> None:
    done = subprocess.run(
        [CADENZA, "bench", "engine", "--scale-pending", "10k,lots"],
        cwd=tmp_path, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--scale-pending" in done.stderr and "10k,10M" in done.stderr
    assert "Traceback" not in done.stderr
