"""Keeping the reports' counters as history is written: once per batch, never per event."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.services.reports.metrics import MESSAGE_METRICS, STEP_EVENTS, hits
from cadenza.store import report_counts
from cadenza.store.report_counts import First

_switch = {"on": True}
# The event types some report counts (`metrics.hits` yields nothing for any other): a batch
# of other events costs a set look-up a row and no statement.
COUNTED = frozenset(
    {*MESSAGE_METRICS, *STEP_EVENTS}
    | {"enrolled", "completed", "exited", "task_completed", "call_logged", "manual_call"}
)


def count(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add a batch of history rows to the counters, in the session's transaction."""
    if not _switch["on"]:
        return
    firsts: dict[tuple[int, str, str, str], First] = {}
    for row in rows:
        if row["type"] not in COUNTED or row.get("enrollment_id") is None:
            continue
        day = _day(row["time"])
        for hit in hits(row):
            key = (row["enrollment_id"], hit.metric, hit.step, hit.detail)
            known = firsts.get(key)
            if known is None or day < known.day:
                firsts[key] = First(*key, day, hit.variant, hit.who, row["sequence_id"])
    if firsts:
        report_counts.add(session, list(firsts.values()))


def take_back(session: Session, enrollment_ids: Iterable[int]) -> None:
    """Enrollments whose history is deleted leave every figure."""
    report_counts.take_back(session, enrollment_ids)


@contextmanager
def paused() -> Iterator[None]:
    """History written inside is not counted: for `cadenza bench reports`' before/after only."""
    _switch["on"] = False
    try:
        yield
    finally:
        _switch["on"] = True


def _day(time: datetime) -> Any:
    return time.astimezone(UTC).date()
