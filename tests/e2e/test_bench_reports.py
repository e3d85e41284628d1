"""`cadenza bench reports` runs to the end on a small load and reports every figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_bench_runs import bench

pytestmark = pytest.mark.slow


def test_bench_reports_builds_the_history_and_times_each_figure(tmp_path: Path) -> None:
    figures = bench(tmp_path, "reports", "--scale", "0.002")
    assert figures["enrollments"] == 2000 and figures["history_rows"] == 20_000
    assert figures["counter_rows"] > 0
    assert figures["report_ms"] > 0 and figures["compare_ms"] > 0
    assert figures["record_before_us"] > 0 and figures["record_after_us"] > 0
