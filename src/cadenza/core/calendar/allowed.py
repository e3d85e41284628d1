"""Send policies (DESIGN.md section 5): allowed instants, waits, and why a step moved.

Pure: every function takes the instants it needs and never reads the clock. Instants come in
and go out as aware datetimes in UTC; local time exists only inside these functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from cadenza.core import reach
from cadenza.core.calendar.holidays import DAY_NAMES, DayRules, day_rules, is_holiday, weekdays_of
from cadenza.core.calendar.quiet import DEFAULT_QUIET as DEFAULT_QUIET
from cadenza.core.calendar.quiet import QuietHours as QuietHours
from cadenza.core.definition import (
    Schedule,
)
from cadenza.core.zones import is_timezone, zone

# Past this much searching a policy is taken to allow nothing (e.g. every day a holiday).
SEARCH_DAYS = 731
SEARCH_SPAN = timedelta(days=SEARCH_DAYS)
QUIET_CHANNELS = reach.quiet_channels()  # texts, calls and voicemail (the reach table)
_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)


class NoAllowedTime(ValueError):
    """No allowed instant lies ahead: past the sequence's end, or none within two years."""


class PastEnd(NoAllowedTime):
    """The first allowed instant would fall at or after the sequence's `end`."""


# --- zones and local time --------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _known_zone(name: str | None) -> ZoneInfo | None:
    if not name or not is_timezone(name):
        return None
    try:
        return zone(name)
    except KeyError:
        return None


def recipient_zone(policy: Schedule, contact_tz: str | None) -> ZoneInfo:
    """The contact's own zone (quiet hours are theirs), else the policy's fallback zone."""
    return _known_zone(contact_tz) or zone(policy.fallback_timezone)


def policy_zone(policy: Schedule, contact_tz: str | None) -> ZoneInfo:
    """The zone the policy's days and hours are read in."""
    if policy.timezone == "contact":
        return recipient_zone(policy, contact_tz)
    return zone(policy.timezone)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`at` on `day` in `tz` as a UTC instant, by the DST rules of DESIGN.md section 5."""
    # A local time that does not exist moves forward to the first that does; an ambiguous
    # one takes its first occurrence.
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: the earlier reading
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    return _gap_end(naive, tz)


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """The instant the clock jumped over `naive` (the first local time after the gap)."""
    # fold=1 reads the gap time with the offset after the jump, fold=0 with the one before:
    # the jump lies between the two readings.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


class _Window(NamedTuple):
    """[opens, closes) of one local day in UTC, with the local date and clock it opens at."""

    opens: datetime
    closes: datetime
    day: date
    clock: str


@lru_cache(maxsize=65536)
def _window(day: date, start: time, stop: time | None, tz: ZoneInfo) -> _Window:
    """[start, stop) on a local day as UTC instants; stop None is the end of the day."""
    opens = local_instant(day, start, tz)
    if stop is None:
        closes = local_instant(day + _ONE_DAY, _MIDNIGHT, tz)
    else:
        closes = local_instant(day, stop, tz)
    local = opens.astimezone(tz)
    return _Window(opens, closes, local.date(), f"{local:%H:%M}")


class _Day(NamedTuple):
    """A local day under a policy: left out (weekday name), closed (holiday label), or open."""

    off: str | None
    closed: str | None
    window: _Window | None


@lru_cache(maxsize=65536)
def _plan(rules: DayRules, tz: ZoneInfo, day: date) -> _Day:
    if rules.off_day(day):
        return _Day(DAY_NAMES[day.weekday()], None, None)
    window = _window(day, rules.opens, rules.closes, tz)
    if window.opens >= window.closes:
        return _Day(None, f"{rules.opens:%H:%M} does not exist on {day} (clock change)", None)
    return _Day(None, rules.holiday(day), window)


def utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset: instants must be aware")
    return instant if instant.tzinfo is UTC else instant.astimezone(UTC)


def is_allowed(
    instant: datetime,
    policy: Schedule,
    channel: str,
    contact_tz: str | None,
    *,
    quiet: QuietHours = DEFAULT_QUIET,
) -> bool:
    """Whether a step may run at this instant: the plain definition next_allowed must meet."""
    instant = utc(instant)
    if (policy.begin and instant < policy.begin) or (policy.end and instant >= policy.end):
        return False
    tz = policy_zone(policy, contact_tz)
    day = instant.astimezone(tz).date()
    if day.weekday() not in weekdays_of(policy.days):
        return False
    if not policy.run_on_holidays and is_holiday(day, policy) is not None:
        return False
    if policy.hours is not None:
        opens = local_instant(day, policy.hours.open, tz)
        if not opens <= instant < local_instant(day, policy.hours.close, tz):
            return False
    if channel not in QUIET_CHANNELS:
        return True
    rtz = recipient_zone(policy, contact_tz)
    rday = instant.astimezone(rtz).date()
    return local_instant(rday, quiet.end, rtz) <= instant < local_instant(rday, quiet.start, rtz)


# --- the next allowed instant ----------------------------------------------------------------


# next_allowed per (instant, policy object, quiet-hours channel or not, zone, quiet hours):
# the worker asks the same question for every enrollment of a batch at the same step.
_allowed: dict[tuple[object, ...], tuple[Schedule, datetime, tuple[str, ...]]] = {}
ALLOWED_LIMIT = 4096


def next_allowed(
    instant: datetime,
    policy: Schedule,
    channel: str,
    contact_tz: str | None,
    *,
    quiet: QuietHours = DEFAULT_QUIET,
) -> tuple[datetime, list[str]]:
    """The first allowed instant at or after `instant`, and the reasons it moved."""
    # The quiet hours as their two times: hashing the dataclass would run Python code.
    key = (instant, id(policy), channel in QUIET_CHANNELS, contact_tz, quiet.start, quiet.end)
    found = _allowed.get(key)
    # The entry holds its policy (immutable once loaded), so an id cannot be reused meanwhile.
    if found is not None and found[0] is policy:
        return found[1], list(found[2])
    allowed, reasons = _search_allowed(instant, policy, channel, contact_tz, quiet)
    if len(_allowed) >= ALLOWED_LIMIT:
        _allowed.clear()
    _allowed[key] = (policy, allowed, tuple(reasons))
    return allowed, reasons


def _search_allowed(
    instant: datetime, policy: Schedule, channel: str, contact_tz: str | None, quiet: QuietHours
) -> tuple[datetime, list[str]]:
    start = current = utc(instant)
    recipient = recipient_zone(policy, contact_tz)
    tz = recipient if policy.timezone == "contact" else zone(policy.timezone)
    rtz = recipient if channel in QUIET_CHANNELS else None
    rules = day_rules(policy)
    reasons: list[str] = []
    if policy.begin is not None and current < policy.begin:
        current = policy.begin.astimezone(UTC)
        reasons.append(f"before the sequence begins → {_stamp(current, tz)}")
    while True:
        if policy.end is not None and current >= policy.end:
            raise PastEnd(f"after the sequence's end {_stamp(policy.end, tz)}")
        inside = _policy_next(current, rules, tz, reasons)
        moved = inside if rtz is None else _quiet_next(inside, quiet, rtz, tz, reasons)
        if moved == inside:  # inside the policy and outside quiet hours: allowed
            if policy.end is not None and inside >= policy.end:
                raise PastEnd(f"after the sequence's end {_stamp(policy.end, tz)}")
            return inside, reasons
        if moved - start > SEARCH_SPAN:  # e.g. hours that always fall in quiet hours
            raise NoAllowedTime(f"no allowed time within {SEARCH_DAYS} days of {start:%Y-%m-%d}")
        current = moved


def _policy_next(instant: datetime, rules: DayRules, tz: ZoneInfo, reasons: list[str]) -> datetime:
    """The first instant >= `instant` inside the policy's days and hours (quiet hours aside)."""
    first_day = instant.astimezone(tz).date()
    today = _plan(rules, tz, first_day)
    window = today.window
    if today.closed is None and window and window.opens <= instant < window.closes:
        return instant  # the common case, answered without the search below
    return _policy_search(instant, first_day, rules, tz, reasons)


def _policy_search(
    instant: datetime, first_day: date, rules: DayRules, tz: ZoneInfo, reasons: list[str]
) -> datetime:
    """Walk local days from `first_day` to the first window opening after `instant`."""
    causes: list[str] = []  # in the order met; "" stands for the days the policy leaves out
    weekdays: list[str] = []
    for offset in range(SEARCH_DAYS):
        plan = _plan(rules, tz, first_day + timedelta(days=offset) if offset else first_day)
        if plan.off is not None:
            if not weekdays:
                causes.append("")
            if plan.off not in weekdays:
                weekdays.append(plan.off)
            continue
        if plan.closed is not None or plan.window is None:
            causes.append(plan.closed or "closed")
            continue
        window = plan.window
        if instant < window.opens:
            if offset == 0:
                causes.append(rules.before)
            break
        if instant < window.closes:
            return instant  # inside today's window: nothing moves
        causes.append(rules.after)  # only ever today: later days open after `instant`
    else:
        raise NoAllowedTime(f"no allowed day within {SEARCH_DAYS} days of {first_day}")
    where = f"{_destination(window, first_day)} {tz.key}"
    left_out = f"{', '.join(weekdays)} → {where}: {rules.days_rule}"
    reasons.extend(f"{cause} → {where}" if cause else left_out for cause in causes)
    return window.opens


def _quiet_next(
    instant: datetime, quiet: QuietHours, rtz: ZoneInfo, ptz: ZoneInfo, reasons: list[str]
) -> datetime:
    """The first instant >= `instant` outside quiet hours in the recipient's zone."""
    local = instant.astimezone(rtz)
    for offset in range(3):  # two days cover any quiet night, even one with a clock change
        window = _window(local.date() + timedelta(days=offset), quiet.end, quiet.start, rtz)
        if window.opens >= window.closes:
            continue
        if instant < window.opens:
            break
        if instant < window.closes:
            return instant
    else:  # pragma: no cover - only a zone that skipped whole days could get here
        raise NoAllowedTime(f"no time outside quiet hours near {local:%Y-%m-%d %H:%M}")
    zone_note = "" if rtz is ptz else f" ({rtz.key})"
    where = _destination(window, local.date())
    reasons.append(f"quiet hours: {local.hour:02d}:{local.minute:02d} local{zone_note} → {where}")
    return window.opens


def _destination(window: _Window, since: date) -> str:
    """'09:00' the same day, 'Monday 09:00' within a week, else 'Monday 2026-07-06 09:00'."""
    days = (window.day - since).days
    if days == 0:
        return window.clock
    name = DAY_NAMES[window.day.weekday()]
    return f"{name} {window.clock}" if days < 7 else f"{name} {window.day} {window.clock}"


def _stamp(instant: datetime, tz: ZoneInfo) -> str:
    return f"{instant.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
