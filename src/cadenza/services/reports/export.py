"""Reports as CSV: one row per figure, so a spreadsheet can pivot them any way."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

FORMULA = ("=", "+", "-", "@")
COLUMNS = ("sequence", "section", "step", "variant", "figure", "detail", "count", "rate")


def sequence_csv(report: dict[str, Any]) -> str:
    """A sequence report as CSV text (header first)."""
    return _write(_sequence_rows(report))


def compare_csv(reports: list[dict[str, Any]]) -> str:
    """Sequences side by side as CSV text: their headline rows, one after the other."""
    return _write(row for report in reports for row in _summary_rows(report))


def _write(rows: Iterator[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        # A cell that starts like a formula is written as text (spreadsheets would run it).
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in FORMULA else v for v in row])
    return out.getvalue()


def _sequence_rows(report: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    yield from _summary_rows(report)
    name = report["sequence"]
    for step in report["steps"]:
        key = step["step"]
        for figure in ("reached", "ran", "errors"):
            yield name, "step", key, "", figure, "", step[figure], ""
        for figure in ("skipped", "deferred"):
            yield name, "step", key, "", figure, "", step[figure]["total"], ""
            for reason, n in step[figure]["by_reason"].items():
                yield name, "step", key, "", figure, reason, n, ""
        yield from _messages(name, "step", key, "", step["messages"])
        for variant in step.get("variants", []):
            yield from _messages(name, "variant", key, variant["variant"], variant["messages"])


def _summary_rows(report: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    name = report["sequence"]
    yield name, "sequence", "", "", "enrolled", "", report["enrolled"], ""
    for status, n in report["now"].items():
        yield name, "now", "", "", status, "", n, ""
    yield name, "sequence", "", "", "completed", "", report["completed"], ""
    yield name, "sequence", "", "", "exited", "", report["exited"]["total"], ""
    for reason, n in report["exited"]["by_reason"].items():
        yield name, "sequence", "", "", "exited", reason, n, ""
    for outcome, n in report["outcomes"].items():
        yield name, "sequence", "", "", "outcome", outcome, n, ""
    yield name, "sequence", "", "", "tasks open", "", report["tasks"]["open"], ""
    for outcome, n in report["tasks"]["completed"]["by_outcome"].items():
        yield name, "sequence", "", "", "tasks completed", outcome, n, ""
    yield from _messages(name, "sequence", "", "", report["messages"])


def _messages(
    name: str, section: str, step: str, variant: str, figures: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    for figure, value in figures.items():
        rate = "" if value["rate"] is None else value["rate"]
        yield name, section, step, variant, figure, "", value["count"], rate
