"""Waits (DESIGN.md section 4): when a step comes due, before and after allowed time.

Pure, as the rest of the calendar: instants in and out are aware datetimes in UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cadenza.core.calendar.allowed import (
    ALLOWED_LIMIT,
    DEFAULT_QUIET,
    QUIET_CHANNELS,
    SEARCH_DAYS,
    NoAllowedTime,
    QuietHours,
    local_instant,
    next_allowed,
    policy_zone,
    utc,
)
from cadenza.core.calendar.holidays import DAY_NAMES, DayRules, day_rules
from cadenza.core.definition import (
    Duration,
    Schedule,
    Wait,
    WaitBusinessDays,
    WaitDayAt,
    WaitDaysAt,
)

_ONE_DAY = timedelta(days=1)


def add_duration(instant: datetime, duration: Duration) -> datetime:
    """`instant` plus an elapsed time (real minutes, whatever the clocks do)."""
    return utc(instant) + timedelta(minutes=duration.total_minutes)


def apply_wait(
    wait: Wait,
    *,
    previous: datetime,
    enrolled_at: datetime,
    policy: Schedule,
    contact_tz: str | None,
) -> datetime:
    """The raw due instant of a wait, before it is pushed into allowed time."""
    return _placed(wait, utc(previous), enrolled_at, policy, contact_tz)[0]


def _placed(
    wait: Wait,
    previous: datetime,
    enrolled_at: datetime,
    policy: Schedule,
    contact_tz: str | None,
) -> tuple[datetime, list[str]]:
    """A wait's instant, and why a wait with `at` left the day it counted to (if it did)."""
    if isinstance(wait, Duration):
        return add_duration(previous, wait), []
    if not isinstance(wait, WaitBusinessDays | WaitDaysAt | WaitDayAt):
        return previous, []  # "none"
    tz = policy_zone(policy, contact_tz)
    rules = day_rules(policy)
    if isinstance(wait, WaitBusinessDays):
        return _business_days_later(previous, wait.business_days, rules, tz), []
    if isinstance(wait, WaitDayAt):
        # Day N counts open days: a cadence's days keep their order and spacing.
        first = utc(enrolled_at).astimezone(tz).date()
        day = _open_day(first, wait.day, rules)
        why = [] if day == first + timedelta(days=wait.day - 1) else [_counted(wait, day, rules)]
        return local_instant(day, wait.at, tz), why
    day = previous.astimezone(tz).date() + timedelta(days=wait.days)
    if rules.working(day):
        return local_instant(day, wait.at, tz), []
    # A closed day: the same time on the next open day (its opening if `at` is outside hours).
    landed, day = day, _open_day(day, 1, rules)
    at = wait.at if _within_hours(wait.at, rules) else rules.opens
    moved = f"{_closed(landed, rules)} → {DAY_NAMES[day.weekday()]} {at:%H:%M} {tz.key}"
    return local_instant(day, at, tz), [moved]


def _open_day(start: date, count: int, rules: DayRules) -> date:
    """The `count`-th open day from `start` on (`start` itself is the first when open)."""
    day = start
    for _ in range(count + SEARCH_DAYS):
        if rules.working(day):
            count -= 1
            if count == 0:
                return day
        day += _ONE_DAY
    raise NoAllowedTime(f"no open day within {SEARCH_DAYS} days of {start:%Y-%m-%d}")


def _within_hours(at: time, rules: DayRules) -> bool:
    return rules.opens <= at and (rules.closes is None or at < rules.closes)


def _closed(day: date, rules: DayRules) -> str:
    """Why a local day is not an open day, in words."""
    holiday = rules.holiday(day)
    if not rules.off_day(day) and holiday is not None:
        return f"{holiday} {day:%Y-%m-%d}"
    return f"{DAY_NAMES[day.weekday()]} {day:%Y-%m-%d}: {rules.days_rule}"


def _counted(wait: WaitDayAt, day: date, rules: DayRules) -> str:
    """Why day N falls where it does: open days are counted, closed ones are not."""
    return (
        f"day {wait.day} is {DAY_NAMES[day.weekday()]} {day:%Y-%m-%d}: "
        f"only open days count ({rules.days_rule}, holidays off)"
    )


def _business_days_later(previous: datetime, count: int, rules: DayRules, tz: ZoneInfo) -> datetime:
    """The same local time `count` business days (policy days minus holidays) later."""
    local = previous.astimezone(tz)
    day = local.date()
    for _ in range(count + SEARCH_DAYS):
        if count == 0:
            return local_instant(day, local.time(), tz)
        day += _ONE_DAY
        if rules.working(day):
            count -= 1
    raise NoAllowedTime(f"no business day within {SEARCH_DAYS} days of {local:%Y-%m-%d}")


# due() per (wait object, previous, policy object, quiet-hours channel or not, zone, quiet
# hours), for every wait but "day N", which also reads the enrollment date: as with
# next_allowed, a batch asks the same question for each enrollment at the same step.
_due: dict[tuple[object, ...], tuple[Wait, Schedule, datetime, tuple[str, ...]]] = {}


def due(
    wait: Wait,
    *,
    previous: datetime,
    enrolled_at: datetime,
    policy: Schedule,
    channel: str,
    contact_tz: str | None,
    quiet: QuietHours = DEFAULT_QUIET,
) -> tuple[datetime, list[str]]:
    """When a step with this wait comes due: the wait applied, then moved into allowed time."""
    if isinstance(wait, WaitDayAt):
        return _due_now(wait, previous, enrolled_at, policy, channel, contact_tz, quiet)
    quiet_channel = channel in QUIET_CHANNELS
    key = (id(wait), previous, id(policy), quiet_channel, contact_tz, quiet.start, quiet.end)
    found = _due.get(key)
    # The entry holds its wait and policy (immutable once loaded): their ids stay theirs.
    if found is not None and found[0] is wait and found[1] is policy:
        return found[2], list(found[3])
    instant, reasons = _due_now(wait, previous, enrolled_at, policy, channel, contact_tz, quiet)
    if len(_due) >= ALLOWED_LIMIT:
        _due.clear()
    _due[key] = (wait, policy, instant, tuple(reasons))
    return instant, reasons


def _due_now(
    wait: Wait,
    previous: datetime,
    enrolled_at: datetime,
    policy: Schedule,
    channel: str,
    contact_tz: str | None,
    quiet: QuietHours,
) -> tuple[datetime, list[str]]:
    previous = utc(previous)
    raw, reasons = _placed(wait, previous, enrolled_at, policy, contact_tz)
    if raw < previous:
        # A day-N step reached after day N (or "0 days at" an earlier hour) runs at once.
        reasons.append(f"{describe_wait(wait)} had already passed → as soon as allowed")
        raw = previous
    instant, moved = next_allowed(raw, policy, channel, contact_tz, quiet=quiet)
    return instant, reasons + moved


def describe_wait(wait: Wait) -> str:
    """A wait in words: "2 business days", "day 5 at 09:30", "1 day at 10:00", "immediately"."""
    if isinstance(wait, Duration):
        return wait.in_words()
    if isinstance(wait, WaitBusinessDays):
        return _count(wait.business_days, "business day")
    if isinstance(wait, WaitDaysAt):
        return f"{_count(wait.days, 'day')} at {wait.at:%H:%M}"
    if isinstance(wait, WaitDayAt):
        return f"day {wait.day} at {wait.at:%H:%M}"
    return "immediately"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
