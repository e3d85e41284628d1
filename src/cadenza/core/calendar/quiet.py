"""Quiet hours: when texts, calls and voicemail wait for morning (settings read them at start)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

# The legal floor: quiet from 21:00 until 08:00; configuration may only widen it.
_QUIET_FLOOR = (time(21, 0), time(8, 0))


@dataclass(frozen=True)
class QuietHours:
    """Quiet for SMS, MMS, calls and voicemail from `start` until `end` the next morning."""

    start: time = _QUIET_FLOOR[0]
    end: time = _QUIET_FLOOR[1]

    def __post_init__(self) -> None:
        floor_start, floor_end = _QUIET_FLOOR
        if self.start > floor_start or self.end < floor_end:
            raise ValueError(
                f"quiet hours {self.start:%H:%M}-{self.end:%H:%M} are looser than "
                f"{floor_start:%H:%M}-{floor_end:%H:%M}: they may only be made stricter"
            )
        if self.end >= self.start:
            raise ValueError(
                f"quiet hours {self.start:%H:%M}-{self.end:%H:%M} leave no time to send: "
                "they run from an evening start to a morning end"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        """Quiet hours from "HH:MM" strings (as settings hold them)."""
        return cls(time.fromisoformat(start), time.fromisoformat(end))


DEFAULT_QUIET = QuietHours()
