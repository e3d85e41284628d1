"""Keeping the reports' counters as history is written: once per batch, never per event."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.services.reports.metrics import hits
from cadenza.store import report_counts
from cadenza.store.report_counts import First

_switch = {"on": True}


def count(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add a batch of history rows to the counters, in the session's transaction."""
    if not _switch["on"]:
        return
    firsts: dict[tuple[int, str, str, str], First] = {}
    for row in rows:
        for hit in hits(row):
            key = (row["enrollment_id"], hit.metric, hit.step, hit.detail)
            day = _day(row["time"])
            known = firsts.get(key)
            if known is None or day < known.day:
                firsts[key] = First(*key, day, hit.variant, hit.who, row["sequence_id"])
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
