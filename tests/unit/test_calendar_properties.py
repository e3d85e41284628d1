"""Properties of next_allowed over random zones, policies, channels and instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_package
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cadenza.core.calendar import (
    NoAllowedTime,
    QuietHours,
    apply_wait,
    is_allowed,
    local_instant,
    next_allowed,
    policy_zone,
    recipient_zone,
)
from cadenza.core.calendar.holidays import us_sales
from cadenza.core.definition import Schedule, WaitBusinessDays

ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "America/St_Johns",  # -03:30 with DST
    "Europe/London",
    "Europe/Berlin",
    "Africa/Cairo",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Asia/Tokyo",
    "Australia/Adelaide",  # +09:30 with DST, southern summer
    "Australia/Lord_Howe",  # a half-hour DST shift
    "Pacific/Auckland",
    "Pacific/Chatham",  # +12:45 with DST
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CHANNELS = ["email", "sms", "mms", "call", "voicemail", "none"]
# Written out here rather than imported, so that dropping a channel from the calendar fails.
PHONE_CHANNELS = ["sms", "mms", "call", "voicemail"]
STRICT = QuietHours(time(20, 30), time(9, 15))
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def minutes_of_day(low: int = 0, high: int = 1439) -> st.SearchStrategy[int]:
    return st.integers(min_value=low, max_value=high)


@st.composite
def hours(draw: st.DrawFn) -> dict[str, str] | None:
    if draw(st.booleans()):
        return None
    opens = draw(minutes_of_day(0, 1438))
    # Short windows too: they are where a careless search skips past the answer.
    closes = draw(minutes_of_day(opens + 1, min(1439, opens + draw(st.sampled_from([5, 90, 600])))))
    return {
        "open": f"{opens // 60:02d}:{opens % 60:02d}",
        "close": f"{closes // 60:02d}:{closes % 60:02d}",
    }


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@st.composite
def policies(draw: st.DrawFn) -> Schedule:
    fields: dict[str, Any] = {
        "timezone": draw(st.sampled_from(["contact", *ZONES])),
        "fallback_timezone": draw(st.sampled_from(ZONES)),
        "days": draw(
            st.one_of(
                st.sampled_from(["every_day", "business"]),
                st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
            )
        ),
        "hours": draw(hours()),
        "holidays": draw(st.sampled_from(["us-sales", "US", "none", "GB", "CA-ON"])),
        "extra_holidays": draw(st.lists(st.dates(date(2025, 1, 1), date(2029, 1, 31)), max_size=3)),
        "run_on_holidays": draw(st.booleans()),
    }
    return Schedule.model_validate(fields)


contact_zones = st.one_of(st.sampled_from(ZONES), st.none(), st.just("Not/AZone"))


def snapped(draw: st.DrawFn, instant: datetime, rules: Schedule, tz: str | None) -> datetime:
    """The instant moved onto (or a minute off) an edge of its local day: an opening or a
    closing (most often), a midnight or a quiet-hours edge; off-by-one mistakes live there."""
    edges = [time(0, 0), time(8, 0), time(21, 0), time(9, 15), time(20, 30)]
    zones = [policy_zone(rules, tz), recipient_zone(rules, tz)]
    if rules.hours is not None and draw(st.booleans()):
        edges, zones = [rules.hours.open, rules.hours.close], zones[:1]
    zone = draw(st.sampled_from(zones))
    wall = datetime.combine(instant.astimezone(zone).date(), draw(st.sampled_from(edges)))
    nudge = timedelta(minutes=draw(st.sampled_from([-1, 0, 0, 1])))
    return (wall.replace(tzinfo=zone) + nudge).astimezone(UTC)


Case = tuple[datetime, Schedule, str, str | None, QuietHours]


@st.composite
def cases(draw: st.DrawFn, channels: list[str] = CHANNELS) -> Case:
    instant = draw(instants)
    rules = draw(policies())
    tz = draw(contact_zones)
    if draw(st.booleans()):
        instant = snapped(draw, instant, rules, tz)
    if draw(st.integers(0, 4)) == 0:  # sometimes a begin and an end near the instant
        begin = instant + timedelta(minutes=draw(st.integers(-3000, 3000)))
        end = begin + timedelta(minutes=draw(st.integers(1, 20_000)))
        rules = rules.model_copy(
            update={
                "begin": begin.replace(second=0, microsecond=0),
                "end": end.replace(second=0, microsecond=0),
            }
        )
    quiet = draw(st.sampled_from([QuietHours(), STRICT]))
    return instant, rules, draw(st.sampled_from(channels)), tz, quiet


def answer(case: Case) -> tuple[datetime, list[str]] | None:
    instant, rules, channel, tz, quiet = case
    try:
        return next_allowed(instant, rules, channel, tz, quiet=quiet)
    except NoAllowedTime:
        return None


def first_allowed_minute(start: datetime, stop: datetime, case: Case) -> datetime | None:
    """The first allowed instant in [start, stop), found by checking every whole minute.

    Every edge of the allowed set (local hours, midnights, clock changes, quiet hours, begin
    and end) falls on a whole UTC minute, so checking `start` and each whole minute after it
    finds the first allowed instant exactly.
    """
    _, rules, channel, tz, quiet = case
    if is_allowed(start, rules, channel, tz, quiet=quiet):
        return start
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < stop:
        if is_allowed(minute, rules, channel, tz, quiet=quiet):
            return minute
        minute += timedelta(minutes=1)
    return None


def first_allowed_edge(start: datetime, stop: datetime, case: Case) -> datetime | None:
    """The first allowed instant in [start, stop), found by checking only where it can change.

    is_allowed compares the instant with its local days' midnights, opening and closing times
    and quiet-hours edges (made by local_instant, which has its own property below) and with
    begin and end; between two of those it cannot change. So checking `start` and every such
    edge finds the first allowed instant exactly, over spans far too long to scan by minute.
    """
    _, rules, channel, tz, quiet = case
    walls = [time(0, 0), quiet.end, quiet.start]
    if rules.hours is not None:
        walls += [rules.hours.open, rules.hours.close]
    edges = {start, *(e for e in (rules.begin, rules.end) if e is not None)}
    for zone in {policy_zone(rules, tz), recipient_zone(rules, tz)}:
        day = start.astimezone(zone).date() - timedelta(days=1)
        while day <= stop.astimezone(zone).date() + timedelta(days=1):
            edges.update(local_instant(day, wall, zone) for wall in walls)
            day += timedelta(days=1)
    for edge in sorted(e for e in edges if start <= e < stop):
        if is_allowed(edge, rules, channel, tz, quiet=quiet):
            return edge
    return None


@PROPERTY
@given(cases())
def test_the_answer_is_allowed_and_never_earlier(case: Any) -> None:
    found = answer(case)
    assume(found is not None)
    assert found is not None
    result, reasons = found
    instant, rules, channel, tz, quiet = case
    assert result.tzinfo is UTC
    assert result >= instant
    assert is_allowed(result, rules, channel, tz, quiet=quiet)
    assert (reasons == []) == (result == instant)
    # Asking again at the answer moves nothing.
    assert next_allowed(result, rules, channel, tz, quiet=quiet) == (result, [])


@PROPERTY
@given(cases())
def test_the_answer_is_the_first_allowed_instant(case: Case) -> None:
    instant, rules = case[0], case[1]
    found = answer(case)
    if found is None:
        # Nothing allowed: there is indeed nothing before the end, or for two years.
        stop = instant + timedelta(days=731)
        stop = stop if rules.end is None else min(stop, rules.end)
        assert first_allowed_edge(instant, stop, case) is None
        assert first_allowed_minute(instant, min(stop, instant + timedelta(days=1)), case) is None
        return
    result, _ = found
    assert first_allowed_edge(instant, result + timedelta(minutes=1), case) == result
    if result - instant <= timedelta(days=1):  # and, where affordable, minute by minute
        assert first_allowed_minute(instant, result + timedelta(minutes=1), case) == result


@PROPERTY
@given(cases(channels=PHONE_CHANNELS))
def test_phone_channels_never_land_in_the_recipients_quiet_hours(case: Any) -> None:
    _, rules, _, tz, quiet = case
    found = answer(case)
    assume(found is not None)
    assert found is not None
    # Read on the recipient's wall clock, independently of the calendar's own arithmetic.
    wall = found[0].astimezone(recipient_zone(rules, tz)).time()
    assert quiet.end <= wall < quiet.start


@PROPERTY
@given(cases())
def test_the_policy_days_and_country_holidays_hold_on_the_local_wall_clock(case: Any) -> None:
    found = answer(case)
    assume(found is not None)
    assert found is not None
    rules, tz = case[1], case[3]
    local = found[0].astimezone(policy_zone(rules, tz))
    if rules.days == "business":
        assert local.weekday() < 5
    elif isinstance(rules.days, list):
        assert WEEKDAYS[local.weekday()] in rules.days
    if not rules.run_on_holidays:
        assert local.date() not in rules.extra_holidays
        assert not _calendar_holiday(rules.holidays, local.date())
    if (
        rules.hours is not None
        and local.fold == 0
        and local.utcoffset() == local.replace(fold=1).utcoffset()
    ):
        # Away from a clock change the window reads plainly on the wall clock.
        assert rules.hours.open <= local.time() < rules.hours.close


@PROPERTY
@given(policies(), instants, contact_zones, st.integers(0, 12))
def test_business_days_land_on_a_working_day_at_the_same_local_time(
    rules: Schedule, instant: datetime, tz: str | None, count: int
) -> None:
    raw = apply_wait(
        WaitBusinessDays(business_days=count),
        previous=instant,
        enrolled_at=instant,
        policy=rules,
        contact_tz=tz,
    )
    zone = policy_zone(rules, tz)
    before, after = instant.astimezone(zone), raw.astimezone(zone)
    assert raw >= instant
    working = 0
    day = before.date()
    while day < after.date():
        day += timedelta(days=1)
        working += not _day_off(day, rules)
    assert working == count
    if count:
        assert not _day_off(after.date(), rules)  # the landing day itself is a working day
    if after.utcoffset() == before.utcoffset():
        assert after.time() == before.time()


def _days(rules: Schedule) -> list[str]:
    if rules.days == "every_day":
        return WEEKDAYS
    if rules.days == "business":
        return WEEKDAYS[:5]
    return list(rules.days)


def _day_off(day: date, rules: Schedule) -> bool:
    if WEEKDAYS[day.weekday()] not in _days(rules):
        return True
    if rules.run_on_holidays:
        return False
    return day in rules.extra_holidays or _calendar_holiday(rules.holidays, day)


def _calendar_holiday(calendar: str, day: date) -> bool:
    return day in _holiday_dates(calendar, day.year)


@cache
def _holiday_dates(calendar: str, year: int) -> frozenset[date]:
    if calendar == "none":
        return frozenset()
    if calendar == "us-sales":
        return frozenset(us_sales(year))  # itself checked against the federal calendar
    country, _, subdivision = calendar.partition("-")
    return frozenset(
        holidays_package.country_holidays(country, subdiv=subdivision or None, years=year)
    )


def _transition_days() -> list[tuple[str, date]]:
    """Every local day in 2025-2028 on which a zone of ZONES changes its clocks."""
    found = []
    for name in ZONES:
        zone = ZoneInfo(name)
        day = date(2025, 1, 1)
        while day < date(2029, 1, 1):
            before = datetime.combine(day, time(0), zone).utcoffset()
            after = datetime.combine(day + timedelta(days=1), time(0), zone).utcoffset()
            if before != after:
                found.append((name, day))
            day += timedelta(days=1)
    return found


TRANSITIONS = _transition_days()


@PROPERTY
@given(
    st.one_of(
        st.sampled_from(TRANSITIONS),
        st.tuples(st.sampled_from(ZONES), st.dates(date(2025, 1, 1), date(2028, 12, 31))),
    ),
    minutes_of_day(),
)
def test_local_instant_is_the_first_instant_whose_wall_clock_reaches_the_time(
    where: tuple[str, date], minute: int
) -> None:
    name, day = where
    zone = ZoneInfo(name)
    wanted = datetime.combine(day, time(minute // 60, minute % 60))
    result = local_instant(day, wanted.time(), zone)
    wall = result.astimezone(zone)
    just_before = (result - timedelta(seconds=1)).astimezone(zone)
    # The wall clock reaches the wanted time at `result` and not a second earlier, and on its
    # first pass (fold 0): an existing time is itself, a skipped one is where the clock lands,
    # and a repeated one is its first occurrence.
    assert wall.replace(tzinfo=None) >= wanted
    assert just_before.replace(tzinfo=None) < wanted
    assert wall.fold == 0
    assert wall.replace(tzinfo=None) - wanted < timedelta(hours=3)


def test_the_zone_list_is_real() -> None:
    assert len(TRANSITIONS) > 100
    for name in ZONES:
        ZoneInfo(name)
