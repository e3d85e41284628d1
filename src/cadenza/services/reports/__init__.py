"""Reports: figures kept in counters as history is written, read per sequence and day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.reports.activity import compare, people, senders, series
    from cadenza.services.reports.figures import headlines, reported_sequence, sequence_report
    from cadenza.services.reports.tally import Timeframe, timeframe_of
else:
    __getattr__, __dir__ = exports(__name__)

__all__ = [
    "Timeframe",
    "compare",
    "headlines",
    "people",
    "reported_sequence",
    "senders",
    "sequence_report",
    "series",
    "timeframe_of",
]
