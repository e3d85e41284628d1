"""The report charts are markup made on the server: every label a person typed is escaped."""

from __future__ import annotations

from cadenza.web.charts import bars, columns

HOSTILE = '<script>alert("x")</script> & "quotes"'


def test_bar_labels_and_titles_are_escaped() -> None:
    svg = str(bars([(HOSTILE, 3), ("plain", 1)], title=HOSTILE))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.startswith("<svg") and svg.count("<rect") == 2


def test_series_names_and_days_are_escaped() -> None:
    svg = str(columns(["2026-12-01", HOSTILE], [(HOSTILE, [1, 2])], title="Sends"))
    assert "<script>" not in svg and svg.count("&lt;script&gt;") >= 2
