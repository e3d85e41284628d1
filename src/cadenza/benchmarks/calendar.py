"""How fast `next_allowed` answers for a mix of policies, zones, channels and instants."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cadenza.core.calendar import next_allowed
from cadenza.core.definition import Schedule

GOAL_PER_SECOND = 50_000
CONTACT_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Adelaide",
    None,  # no zone: the fallback
    "Not/AZone",  # an invalid one: the fallback too
)
CHANNELS = ("email", "sms", "call", "none")
_HOURS = {"open": "09:00", "close": "17:00"}

Call = tuple[datetime, Schedule, str, str | None]


@dataclass(frozen=True)
class CalendarFigure:
    """Calls per round and the seconds each timed round took."""

    calls: int
    seconds: list[float]

    @property
    def best(self) -> float:
        """Calls per second in the fastest round (the least disturbed by other processes)."""
        return self.calls / min(self.seconds)

    @property
    def median(self) -> float:
        """Calls per second in the median round."""
        return self.calls / statistics.median(self.seconds)

    @property
    def meets_goal(self) -> bool:
        return self.best >= GOAL_PER_SECOND


def mixed_policies() -> list[Schedule]:
    """Policies like the ones sequences use: contact or fixed zones, several calendars."""
    return [
        Schedule(timezone="contact", days="business", hours=_HOURS),
        Schedule(timezone="America/Chicago", days="business", hours=_HOURS, holidays="US"),
        Schedule(timezone="contact", days="every_day", holidays="none"),
        Schedule(timezone="Europe/London", days=["mon", "wed", "fri"], hours=_HOURS, holidays="GB"),
        Schedule(
            timezone="contact",
            days="business",
            hours={"open": "08:30", "close": "18:00"},
            holidays="CA-ON",
            extra_holidays=[datetime(2026, 12, 29).date()],
        ),
        # Whole days: India's office hours fall in the night of American contacts' quiet hours.
        Schedule(timezone="Asia/Kolkata", days="every_day", run_on_holidays=True),
    ]


def make_calls(count: int, seed: int = 7) -> list[Call]:
    """`count` random calls over 2026-2027 (same seed, same calls)."""
    rng = random.Random(seed)
    policies = mixed_policies()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        (
            start + timedelta(seconds=rng.randrange(2 * 365 * 86_400)),
            rng.choice(policies),
            rng.choice(CHANNELS),
            rng.choice(CONTACT_ZONES),
        )
        for _ in range(count)
    ]


def measure(
    calls: int = 50_000, rounds: int = 5, timer: Callable[[], float] = time.perf_counter
) -> CalendarFigure:
    """Time `rounds` passes of `calls` next_allowed calls, after a warm-up pass that fills the
    caches as a running worker's would be."""
    batch = make_calls(calls)
    for instant, policy, channel, tz in batch:
        next_allowed(instant, policy, channel, tz)
    seconds = []
    for _ in range(rounds):
        began = timer()
        for instant, policy, channel, tz in batch:
            next_allowed(instant, policy, channel, tz)
        seconds.append(max(timer() - began, 1e-9))
    return CalendarFigure(calls=calls, seconds=seconds)
