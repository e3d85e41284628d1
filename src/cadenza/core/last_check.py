"""The last moment (DESIGN.md principle 4): may this message still go, and now?

The decision to send answered two questions, with the reach table and the calendar: do the
contact's flags allow the action, and is it outside quiet hours in the recipient's zone. The
message carries what that decision used (`reach.SendCheck`: the action, the zone, the quiet
hours); just before sending, the same two questions are asked again, the same way, with the
contact's flags and the clock as they are then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from cadenza.core import calendar, reach
from cadenza.core.definition import Schedule


@dataclass(frozen=True, slots=True)
class Verdict:
    """Send now, suppress for good (with the reason), or defer until a time (with the reason)."""

    kind: Literal["send", "suppress", "defer"]
    reason: str = ""
    until: datetime | None = None


SEND = Verdict("send")


@lru_cache(maxsize=1024)
def _quiet_only(zone: str) -> Schedule:
    """A policy that allows every hour of every day in `zone`: only quiet hours remain."""
    return Schedule(timezone=zone, fallback_timezone=zone, days="every_day", holidays="none")


def check_again(check: reach.SendCheck, contact: reach.Flags, now: datetime) -> Verdict:
    """The verdict on a message at `now`, for the contact's flags as they are now."""
    blocked = reach.blocked(check.action, contact)
    if blocked:
        return Verdict("suppress", blocked)
    row = reach.of(check.action)
    if not row.quiet or row.channel is None:
        return SEND
    quiet = calendar.QuietHours.parse(check.quiet_start, check.quiet_end)
    allowed, reasons = calendar.next_allowed(
        now, _quiet_only(check.zone), row.channel, check.zone, quiet=quiet
    )
    if allowed > now:
        return Verdict("defer", "; ".join(reasons) or "quiet hours", allowed)
    return SEND
