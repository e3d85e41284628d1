"""The only place that reads the wall clock. Everything else is handed a Clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


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


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant (a trailing Z is accepted); naive means UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(value))


def clock_from_env(now: str | None = None) -> Clock:
    """`--now ISO` wins, then CADENZA_NOW, else the system clock."""
    text = now or os.environ.get("CADENZA_NOW")
    return FixedClock(parse_instant(text)) if text else SystemClock()
