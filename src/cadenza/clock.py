"""The only place that reads the wall clock. Everything else is handed a Clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The instants Cadenza accepts from people (CLI and API): far-off ones overflow the calendar
# arithmetic (a year of waits, DST moves, a time zone's offset) at datetime's year 1 and 9999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RANGE = f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} UTC"
EXAMPLE = "2026-12-01T09:00:00Z"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move (tests, `--now`, simulate)."""

    def __init__(self, instant: datetime) -> None:
        self._now = to_utc(instant)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = to_utc(instant)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def to_utc(instant: datetime) -> datetime:
    """An aware datetime in UTC; naive input is taken as UTC."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def in_range(instant: datetime) -> datetime:
    """The instant in UTC; ValueError when it lies outside EARLIEST..LATEST."""
    try:
        utc: datetime | None = to_utc(instant)
    except OverflowError:  # an offset that moves it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"expected a time between {RANGE}")
    return utc


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant between EARLIEST and LATEST (a trailing Z is accepted).

    Naive means UTC. The ValueError says what was given and what is expected.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time: expected one like {EXAMPLE}") from None
    try:
        return in_range(parsed)
    except ValueError as exc:
        raise ValueError(f"{text!r} is out of range: {exc}") from None


def clock_from_env(now: str | None = None) -> Clock:
    """`--now ISO` wins, then CADENZA_NOW, else the system clock."""
    text = now or os.environ.get("CADENZA_NOW")
    return FixedClock(parse_instant(text)) if text else SystemClock()
