"""The scheduling calculus: when a step may run, and the reasons it moved (DESIGN.md §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_package
import pytest
from pydantic import TypeAdapter

from cadenza.core.calendar import (
    DEFAULT_QUIET,
    NoAllowedTime,
    QuietHours,
    add_duration,
    apply_wait,
    describe_wait,
    due,
    is_allowed,
    is_holiday,
    local_instant,
    next_allowed,
    policy_zone,
    recipient_zone,
)
from cadenza.core.calendar.holidays import us_sales
from cadenza.core.definition import Duration, Schedule, Wait

NY, LA, CHI = "America/New_York", "America/Los_Angeles", "America/Chicago"
OFFICE = {"open": "09:00", "close": "17:00"}
WAIT: TypeAdapter[Any] = TypeAdapter(Wait)


def policy(**fields: Any) -> Schedule:
    """A business-days 09:00-17:00 us-sales policy in the contact's zone, unless overridden."""
    return Schedule.model_validate({"hours": OFFICE, **fields})


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def shown(instant: datetime, zone: str) -> str:
    """An instant as a person reads it in a zone: 'Mon 2026-05-18 09:00'."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M")


def when(instant: datetime, zone: str, channel: str = "email", **fields: Any) -> str:
    result, _ = next_allowed(instant, policy(**fields), channel, zone)
    return shown(result, zone)


# --- the seed rules of issue 3 -----------------------------------------------------------------


def test_lead_enrolled_friday_evening_in_los_angeles_gets_its_sms_monday_at_nine() -> None:
    enrolled = local(LA, 2026, 5, 15, 18, 0)  # a Friday
    result, reasons = due(
        "none",
        previous=enrolled,
        enrolled_at=enrolled,
        policy=policy(),
        channel="sms",
        contact_tz=LA,
    )
    assert shown(result, LA) == "Mon 2026-05-18 09:00"
    assert result.tzinfo is UTC
    assert reasons == [
        "after 17:00 → Monday 09:00 America/Los_Angeles",
        "Saturday, Sunday → Monday 09:00 America/Los_Angeles: business days only",
    ]


def test_step_due_on_observed_july_fourth_moves_to_monday_july_sixth() -> None:
    result, reasons = next_allowed(local(NY, 2026, 7, 3, 10, 0), policy(), "email", NY)
    assert shown(result, NY) == "Mon 2026-07-06 09:00"
    assert reasons == [
        "Independence Day (observed) (us-sales) → Monday 09:00 America/New_York",
        "Saturday, Sunday → Monday 09:00 America/New_York: business days only",
    ]


def test_business_days_skip_the_observed_july_fourth() -> None:
    wednesday = local(NY, 2026, 7, 1, 10, 0)
    wait = WAIT.validate_python({"business_days": 2})
    result, reasons = due(
        wait,
        previous=wednesday,
        enrolled_at=wednesday,
        policy=policy(),
        channel="email",
        contact_tz=NY,
    )
    assert shown(result, NY) == "Mon 2026-07-06 10:00"
    assert reasons == []


@pytest.mark.parametrize(
    ("start", "landing", "first_reason"),
    [
        ((2026, 11, 26, 10, 0), "Fri 2026-11-27 09:00", "Thanksgiving (us-sales) → Friday 09:00"),
        ((2026, 12, 24, 10, 0), "Mon 2026-12-28 09:00", "Christmas Eve (us-sales) → Monday 09:00"),
        ((2026, 12, 25, 10, 0), "Mon 2026-12-28 09:00", "Christmas Day (us-sales) → Monday 09:00"),
        (
            (2026, 12, 31, 10, 0),
            "Mon 2027-01-04 09:00",
            "New Year's Eve (us-sales) → Monday 09:00",
        ),
    ],
)
def test_thanksgiving_and_the_year_end_holidays_are_skipped(
    start: tuple[int, ...], landing: str, first_reason: str
) -> None:
    result, reasons = next_allowed(local(NY, *start), policy(), "email", NY)
    assert shown(result, NY) == landing
    assert reasons[0] == f"{first_reason} America/New_York"


def test_us_sales_is_exactly_the_documented_list() -> None:
    assert us_sales(2026) == {
        date(2026, 1, 1): "New Year's Day",
        date(2026, 1, 19): "Martin Luther King Jr. Day",
        date(2026, 2, 16): "Presidents' Day",
        date(2026, 5, 25): "Memorial Day",
        date(2026, 6, 19): "Juneteenth",
        date(2026, 7, 3): "Independence Day (observed)",
        date(2026, 7, 4): "Independence Day",
        date(2026, 9, 7): "Labor Day",
        date(2026, 11, 26): "Thanksgiving",
        date(2026, 12, 24): "Christmas Eve",
        date(2026, 12, 25): "Christmas Day",
        date(2026, 12, 31): "New Year's Eve",
    }
    # July 4 2027 is a Sunday: observed on Monday the 5th. In 2029 it is a Wednesday.
    assert us_sales(2027)[date(2027, 7, 5)] == "Independence Day (observed)"
    assert len(us_sales(2029)) == 11


@pytest.mark.parametrize("year", range(2025, 2041))
def test_us_sales_matches_the_federal_calendar_less_two_plus_two(year: int) -> None:
    """Checked against the holidays package: federal days without Columbus and Veterans Day
    (and without observed days other than July 4's), plus Dec 24 and Dec 31."""
    federal = holidays_package.country_holidays("US", years=year)
    expected = {
        day
        for day, name in federal.items()
        if "Columbus" not in name
        and "Veterans" not in name
        and ("observed" not in name or name.startswith("Independence"))
    } | {date(year, 12, 24), date(year, 12, 31)}
    assert set(us_sales(year)) == expected


def test_day_five_at_half_past_nine_lands_on_day_five() -> None:
    enrolled = local(NY, 2026, 5, 11, 14, 0)  # Monday: day 5 is Friday
    wait = WAIT.validate_python({"day": 5, "at": "09:30"})
    result, reasons = due(
        wait,
        previous=enrolled,
        enrolled_at=enrolled,
        policy=policy(),
        channel="email",
        contact_tz=NY,
    )
    assert shown(result, NY) == "Fri 2026-05-15 09:30"
    assert reasons == []


def test_day_n_counts_open_days_so_a_cadence_keeps_its_order_and_its_time() -> None:
    enrolled = local(NY, 2026, 5, 13, 14, 0)  # Wednesday: day 1; Thursday 2, Friday 3...
    steps = {n: WAIT.validate_python({"day": n, "at": "09:30"}) for n in (3, 4, 5)}
    found = {
        n: due(
            wait,
            previous=enrolled,
            enrolled_at=enrolled,
            policy=policy(),
            channel="email",
            contact_tz=NY,
        )
        for n, wait in steps.items()
    }
    # The weekend is not counted: day 4 is Monday, day 5 Tuesday, each at its own 09:30.
    assert shown(found[3][0], NY) == "Fri 2026-05-15 09:30" and found[3][1] == []
    assert shown(found[4][0], NY) == "Mon 2026-05-18 09:30"
    assert shown(found[5][0], NY) == "Tue 2026-05-19 09:30"
    assert found[5][1] == [
        "day 5 is Tuesday 2026-05-19: only open days count (business days only, holidays off)"
    ]


def test_day_one_on_a_closed_day_is_the_first_open_day() -> None:
    enrolled = local(NY, 2026, 11, 26, 11, 0)  # Thanksgiving (us-sales): day 1 is Friday
    wait = WAIT.validate_python({"day": 2, "at": "10:30"})
    result, _ = due(
        wait,
        previous=enrolled,
        enrolled_at=enrolled,
        policy=policy(),
        channel="email",
        contact_tz=NY,
    )
    assert shown(result, NY) == "Mon 2026-11-30 10:30"  # day 1 Friday, day 2 Monday


def test_day_n_already_past_runs_as_soon_as_allowed() -> None:
    enrolled = local(NY, 2026, 5, 11, 14, 0)
    wait = WAIT.validate_python({"day": 1, "at": "09:30"})
    result, reasons = due(
        wait,
        previous=enrolled,
        enrolled_at=enrolled,
        policy=policy(),
        channel="email",
        contact_tz=NY,
    )
    assert shown(result, NY) == "Mon 2026-05-11 14:00"
    assert reasons == ["day 1 at 09:30 had already passed → as soon as allowed"]


# --- quiet hours ------------------------------------------------------------------------------

ALWAYS = {"days": "every_day", "hours": {"open": "00:00", "close": "23:59"}, "holidays": "none"}


@pytest.mark.parametrize(
    ("hour", "minute", "landing", "reason"),
    [
        (6, 0, "Fri 2026-05-15 08:00", "quiet hours: 06:00 local → 08:00"),
        (7, 12, "Fri 2026-05-15 08:00", "quiet hours: 07:12 local → 08:00"),
        (22, 0, "Sat 2026-05-16 08:00", "quiet hours: 22:00 local → Saturday 08:00"),
        (21, 0, "Sat 2026-05-16 08:00", "quiet hours: 21:00 local → Saturday 08:00"),
    ],
)
def test_quiet_hours_hold_for_sms_even_on_an_every_day_all_day_sequence(
    hour: int, minute: int, landing: str, reason: str
) -> None:
    result, reasons = next_allowed(
        local(CHI, 2026, 5, 15, hour, minute), policy(**ALWAYS), "sms", CHI
    )
    assert shown(result, CHI) == landing
    assert reasons == [reason]


@pytest.mark.parametrize("channel", ["sms", "mms", "call", "voicemail"])
def test_every_phone_channel_keeps_quiet_hours(channel: str) -> None:
    assert when(local(CHI, 2026, 5, 15, 6, 0), CHI, channel, **ALWAYS) == "Fri 2026-05-15 08:00"


@pytest.mark.parametrize("channel", ["email", "none"])
def test_email_and_non_messages_ignore_quiet_hours(channel: str) -> None:
    early = local(CHI, 2026, 5, 15, 6, 0)
    assert next_allowed(early, policy(**ALWAYS), channel, CHI) == (early, [])


def test_the_edges_of_quiet_hours() -> None:
    assert when(local(CHI, 2026, 5, 15, 20, 59), CHI, "sms", **ALWAYS) == "Fri 2026-05-15 20:59"
    assert when(local(CHI, 2026, 5, 15, 8, 0), CHI, "sms", **ALWAYS) == "Fri 2026-05-15 08:00"


def test_stricter_quiet_hours_are_honoured_and_looser_ones_refused() -> None:
    strict = QuietHours.parse("20:00", "09:00")
    result, reasons = next_allowed(
        local(CHI, 2026, 5, 15, 8, 30), policy(**ALWAYS), "sms", CHI, quiet=strict
    )
    assert shown(result, CHI) == "Fri 2026-05-15 09:00"
    assert reasons == ["quiet hours: 08:30 local → 09:00"]
    with pytest.raises(ValueError, match="looser"):
        QuietHours(time(22, 0), time(8, 0))
    with pytest.raises(ValueError, match="looser"):
        QuietHours(time(21, 0), time(7, 0))
    assert DEFAULT_QUIET == QuietHours(time(21, 0), time(8, 0))


def test_quiet_hours_are_the_recipients_when_the_policy_zone_is_fixed() -> None:
    # 09:00 in Chicago is 07:00 in Los Angeles: the text waits for 08:00 there.
    result, reasons = next_allowed(local(CHI, 2026, 5, 13, 9, 0), policy(timezone=CHI), "sms", LA)
    assert shown(result, LA) == "Wed 2026-05-13 08:00"
    assert reasons == ["quiet hours: 07:00 local (America/Los_Angeles) → 08:00"]


# --- zones ------------------------------------------------------------------------------------


def test_a_fixed_zone_policy_reads_hours_in_its_zone_not_the_contacts() -> None:
    # 16:30 in Los Angeles is 18:30 in Chicago: after hours there.
    result, reasons = next_allowed(
        local(LA, 2026, 5, 13, 16, 30), policy(timezone=CHI), "email", LA
    )
    assert shown(result, CHI) == "Thu 2026-05-14 09:00"
    assert reasons == ["after 17:00 → Thursday 09:00 America/Chicago"]
    # The same instant with the contact's zone is still inside the window.
    assert when(local(LA, 2026, 5, 13, 16, 30), LA) == "Wed 2026-05-13 16:30"


@pytest.mark.parametrize("contact_tz", [None, "", "Mars/Olympus_Mons", "EST5EDT-ish"])
def test_the_fallback_zone_serves_contacts_without_a_valid_zone(contact_tz: str | None) -> None:
    rules = policy(fallback_timezone=CHI)
    assert policy_zone(rules, contact_tz).key == CHI
    assert recipient_zone(rules, contact_tz).key == CHI
    result, _ = next_allowed(local(CHI, 2026, 5, 13, 7, 0), rules, "email", contact_tz)
    assert shown(result, CHI) == "Wed 2026-05-13 09:00"


def test_zones_by_policy() -> None:
    assert policy_zone(policy(), LA).key == LA
    assert policy_zone(policy(timezone=CHI), LA).key == CHI
    assert recipient_zone(policy(timezone=CHI), LA).key == LA


# --- daylight saving time --------------------------------------------------------------------


def test_a_local_time_that_does_not_exist_moves_to_the_first_that_does() -> None:
    spring = local_instant(date(2026, 3, 8), time(2, 30), ZoneInfo(NY))
    assert spring == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert shown(spring, NY) == "Sun 2026-03-08 03:00"


def test_an_ambiguous_local_time_takes_its_first_occurrence() -> None:
    autumn = local_instant(date(2026, 11, 1), time(1, 30), ZoneInfo(NY))
    assert autumn == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not EST


def test_days_at_waits_across_both_clock_changes() -> None:
    every_day = policy(days="every_day", hours=None, holidays="none")
    spring_wait = WAIT.validate_python({"days": 1, "at": "02:30"})
    previous = local(NY, 2026, 3, 7, 10, 0)
    raw = apply_wait(
        spring_wait, previous=previous, enrolled_at=previous, policy=every_day, contact_tz=NY
    )
    assert shown(raw, NY) == "Sun 2026-03-08 03:00"
    autumn_wait = WAIT.validate_python({"days": 1, "at": "01:30"})
    previous = local(NY, 2026, 10, 31, 10, 0)
    raw = apply_wait(
        autumn_wait, previous=previous, enrolled_at=previous, policy=every_day, contact_tz=NY
    )
    assert raw == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_window_opening_inside_the_spring_gap_opens_when_the_clock_jumps() -> None:
    night = policy(days="every_day", hours={"open": "02:30", "close": "05:00"}, holidays="none")
    result, reasons = next_allowed(local(NY, 2026, 3, 8, 1, 0), night, "email", NY)
    assert shown(result, NY) == "Sun 2026-03-08 03:00"
    assert reasons == ["before 02:30 → 03:00 America/New_York"]


def test_elapsed_waits_count_real_time_and_business_days_keep_the_wall_clock() -> None:
    saturday = local(NY, 2026, 3, 7, 10, 0)
    assert shown(add_duration(saturday, Duration(hours=24)), NY) == "Sun 2026-03-08 11:00"
    friday = local(NY, 2026, 10, 30, 10, 0)
    one = WAIT.validate_python({"business_days": 1})
    raw = apply_wait(one, previous=friday, enrolled_at=friday, policy=policy(), contact_tz=NY)
    assert shown(raw, NY) == "Mon 2026-11-02 10:00"  # EST now, still 10:00 on the wall


def test_quiet_hours_on_the_autumn_clock_change() -> None:
    early = datetime(2026, 11, 1, 11, 30, tzinfo=UTC)  # 06:30 EST, after the change
    assert when(early, NY, "sms", **ALWAYS) == "Sun 2026-11-01 08:00"


# --- begin, end, holidays ---------------------------------------------------------------------


def test_nothing_runs_before_the_sequence_begins() -> None:
    rules = policy(begin="2026-12-01T08:00:00-05:00")
    result, reasons = next_allowed(local(NY, 2026, 11, 20, 10, 0), rules, "email", NY)
    assert shown(result, NY) == "Tue 2026-12-01 09:00"
    assert reasons == [
        "before the sequence begins → 2026-12-01 08:00 America/New_York",
        "before 09:00 → 09:00 America/New_York",
    ]


def test_nothing_runs_at_or_after_the_sequence_ends() -> None:
    rules = policy(end="2026-12-04T12:00:00-05:00")
    with pytest.raises(NoAllowedTime, match="after the sequence's end 2026-12-04 12:00"):
        next_allowed(local(NY, 2026, 12, 4, 12, 0), rules, "email", NY)
    assert when(local(NY, 2026, 12, 4, 11, 59), NY, end="2026-12-04T12:00:00-05:00") == (
        "Fri 2026-12-04 11:59"
    )
    # Thursday after hours: the next opening, Friday 09:00, is past an 08:00 end.
    early_end = policy(end="2026-12-04T08:00:00-05:00")
    with pytest.raises(NoAllowedTime, match="after the sequence's end 2026-12-04 08:00"):
        next_allowed(local(NY, 2026, 12, 3, 18, 0), early_end, "email", NY)


def test_extra_holidays_are_skipped() -> None:
    rules = policy(extra_holidays=["2026-12-29"])
    result, reasons = next_allowed(local(NY, 2026, 12, 29, 10, 0), rules, "email", NY)
    assert shown(result, NY) == "Wed 2026-12-30 09:00"
    assert reasons == ["2026-12-29 (extra_holidays) → Wednesday 09:00 America/New_York"]
    assert is_holiday(date(2026, 12, 29), rules) == "extra holiday"


def test_run_on_holidays_ignores_the_calendar_but_not_the_weekdays() -> None:
    thanksgiving = local(NY, 2026, 11, 26, 10, 0)
    assert when(thanksgiving, NY, run_on_holidays=True) == "Thu 2026-11-26 10:00"
    assert is_holiday(date(2026, 11, 26), policy(run_on_holidays=True)) == "Thanksgiving"
    assert when(local(NY, 2026, 7, 4, 10, 0), NY, run_on_holidays=True) == "Mon 2026-07-06 09:00"


def test_a_country_calendar_from_the_holidays_package_gb() -> None:
    london = "Europe/London"
    good_friday = local(london, 2026, 4, 3, 10, 0)
    result, reasons = next_allowed(good_friday, policy(holidays="GB"), "email", london)
    assert shown(result, london) == "Mon 2026-04-06 09:00"
    assert reasons[0] == "Good Friday (GB) → Monday 09:00 Europe/London"
    assert when(local(london, 2026, 12, 28, 10, 0), london, holidays="GB") == (
        "Tue 2026-12-29 09:00"  # Boxing Day falls on a Saturday: observed Monday 28th
    )
    # us-sales days are ordinary days in Britain.
    assert when(local(london, 2026, 11, 26, 10, 0), london, holidays="GB") == (
        "Thu 2026-11-26 10:00"
    )


def test_a_subdivision_calendar_ca_on() -> None:
    toronto = "America/Toronto"
    assert is_holiday(date(2026, 2, 16), policy(holidays="CA-ON")) == "Family Day"
    result, reasons = next_allowed(
        local(toronto, 2026, 2, 16, 10, 0), policy(holidays="CA-ON"), "email", toronto
    )
    assert shown(result, toronto) == "Tue 2026-02-17 09:00"
    assert reasons == ["Family Day (CA-ON) → Tuesday 09:00 America/Toronto"]
    assert is_holiday(date(2026, 7, 1), policy(holidays="CA-ON")) == "Canada Day"
    assert is_holiday(date(2026, 7, 3), policy(holidays="CA-ON")) is None


def test_no_calendar() -> None:
    assert when(local(NY, 2026, 12, 25, 10, 0), NY, holidays="none") == "Fri 2026-12-25 10:00"


# --- days, hours, reasons ---------------------------------------------------------------------


def test_a_list_of_weekdays() -> None:
    rules = policy(days=["mon", "wed"])
    result, reasons = next_allowed(local(NY, 2026, 5, 12, 10, 0), rules, "email", NY)
    assert shown(result, NY) == "Wed 2026-05-13 09:00"
    assert reasons == ["Tuesday → Wednesday 09:00 America/New_York: days mon, wed only"]


def test_before_opening_and_far_moves_name_the_date() -> None:
    assert next_allowed(local(NY, 2026, 5, 13, 7, 0), policy(), "email", NY)[1] == [
        "before 09:00 → 09:00 America/New_York"
    ]
    rules = policy(days=["mon"])
    result, reasons = next_allowed(local(NY, 2026, 5, 18, 17, 0), rules, "email", NY)
    assert shown(result, NY) == "Mon 2026-06-01 09:00"  # Memorial Day on the 25th
    assert reasons == [
        "after 17:00 → Monday 2026-06-01 09:00 America/New_York",
        "Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday → "
        "Monday 2026-06-01 09:00 America/New_York: days mon only",
        "Memorial Day (us-sales) → Monday 2026-06-01 09:00 America/New_York",
    ]


def test_an_allowed_instant_is_returned_unchanged_to_the_second() -> None:
    inside = local(NY, 2026, 5, 13, 10, 0).replace(second=30, microsecond=5)
    result, reasons = next_allowed(inside, policy(), "sms", NY)
    assert result == inside and result.tzinfo is UTC
    assert reasons == []
    assert is_allowed(inside, policy(), "sms", NY)


def test_closing_time_is_exclusive() -> None:
    assert when(local(NY, 2026, 5, 13, 16, 59), NY) == "Wed 2026-05-13 16:59"
    assert when(local(NY, 2026, 5, 13, 17, 0), NY) == "Thu 2026-05-14 09:00"


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        next_allowed(datetime(2026, 5, 13, 10, 0), policy(), "email", NY)


def test_a_policy_that_allows_nothing_fails_instead_of_looping() -> None:
    # Chicago 21:30-23:00 is always inside a Chicago contact's quiet hours.
    night = policy(days="every_day", hours={"open": "21:30", "close": "23:00"}, timezone=CHI)
    with pytest.raises(NoAllowedTime, match="no allowed time within 731 days"):
        next_allowed(local(CHI, 2026, 5, 13, 10, 0), night, "sms", CHI)
    assert when(local(CHI, 2026, 5, 13, 10, 0), CHI, **night.model_dump()) == (
        "Wed 2026-05-13 21:30"  # email has no quiet hours
    )


# --- waits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "text"),
    [
        ("none", "immediately"),
        ({"business_days": 2}, "2 business days"),
        ({"business_days": 1}, "1 business day"),
        ({"day": 5, "at": "09:30"}, "day 5 at 09:30"),
        ({"days": 1, "at": "10:00"}, "1 day at 10:00"),
        ({"days": 3, "at": "08:05"}, "3 days at 08:05"),
        ({"hours": 2}, "2 hours"),
        ({"days": 1, "hours": 2, "minutes": 1}, "1 day 2 hours 1 minute"),
    ],
)
def test_describe_wait(wait: Any, text: str) -> None:
    assert describe_wait(WAIT.validate_python(wait)) == text


def test_elapsed_waits_sum_their_parts() -> None:
    start = datetime(2026, 5, 13, 14, 0, tzinfo=UTC)
    wait = WAIT.validate_python({"days": 1, "hours": 2, "minutes": 3})
    raw = apply_wait(wait, previous=start, enrolled_at=start, policy=policy(), contact_tz=NY)
    assert raw == datetime(2026, 5, 14, 16, 3, tzinfo=UTC)


def test_days_at_counts_calendar_days_from_the_previous_local_date() -> None:
    # 23:30 Friday in Los Angeles is already Saturday in UTC; the local date counts.
    friday_night = local(LA, 2026, 5, 15, 23, 30)
    wait = WAIT.validate_python({"days": 1, "at": "10:00"})
    result, reasons = due(
        wait,
        previous=friday_night,
        enrolled_at=friday_night,
        policy=policy(),
        channel="call",
        contact_tz=LA,
    )
    # Saturday is closed: the wait keeps its 10:00 on the next open day.
    assert shown(result, LA) == "Mon 2026-05-18 10:00"
    assert reasons == ["Saturday 2026-05-16: business days only → Monday 10:00 America/Los_Angeles"]


def test_days_at_outside_the_hours_on_a_closed_day_takes_the_next_opening() -> None:
    friday = local(NY, 2026, 5, 15, 11, 0)
    wait = WAIT.validate_python({"days": 1, "at": "19:30"})
    result, _ = due(
        wait,
        previous=friday,
        enrolled_at=friday,
        policy=policy(),
        channel="email",
        contact_tz=NY,
    )
    assert shown(result, NY) == "Mon 2026-05-18 09:00"


def test_a_repeated_question_gets_the_same_answer_and_a_list_of_its_own() -> None:
    # The worker asks next_allowed the same question for a whole batch: the answer is kept,
    # but only for the policy object, channel kind, zone and quiet hours it was found for.
    saturday = local(NY, 2026, 5, 16, 12, 0)
    office = policy()
    first, reasons = next_allowed(saturday, office, "email", NY)
    reasons.append("changed by a caller")
    again, reasons_again = next_allowed(saturday, office, "email", NY)
    assert (shown(first, NY), shown(again, NY)) == ("Mon 2026-05-18 09:00",) * 2
    assert "changed by a caller" not in reasons_again and reasons_again
    weekend = policy(days="every_day", hours=None)
    assert shown(next_allowed(saturday, weekend, "email", NY)[0], NY) == "Sat 2026-05-16 12:00"
    assert shown(next_allowed(saturday, office, "email", LA)[0], LA) == "Mon 2026-05-18 09:00"
    late = local(NY, 2026, 5, 18, 21, 30)  # a Monday evening: quiet for texts, not for email
    anytime = policy(days="every_day", hours=None)
    assert shown(next_allowed(late, anytime, "email", NY)[0], NY) == "Mon 2026-05-18 21:30"
    assert shown(next_allowed(late, anytime, "sms", NY)[0], NY) == "Tue 2026-05-19 08:00"


def test_due_answers_a_repeated_question_alike_but_day_n_by_its_enrollment_date() -> None:
    # due() keeps its answers as next_allowed does; "day N" also depends on the enrollment
    # date, which is not part of the question, so it is always worked out afresh.
    friday = local(NY, 2026, 5, 15, 16, 30)
    office, two_hours = policy(), WAIT.validate_python({"hours": 2})
    asked = {"previous": friday, "enrolled_at": friday, "policy": office, "contact_tz": NY}
    first, reasons = due(two_hours, channel="email", **asked)
    reasons.append("changed by a caller")
    again, reasons_again = due(two_hours, channel="email", **asked)
    assert (shown(first, NY), shown(again, NY)) == ("Mon 2026-05-18 09:00",) * 2
    assert "changed by a caller" not in reasons_again and reasons_again
    # 18:30 in New York is 15:30 in Los Angeles, inside its office hours
    assert shown(due(two_hours, channel="email", **{**asked, "contact_tz": LA})[0], LA) == (
        "Fri 2026-05-15 15:30"
    )
    day_two = WAIT.validate_python({"day": 2, "at": "10:00"})
    monday, tuesday = local(NY, 2026, 5, 11, 9, 0), local(NY, 2026, 5, 12, 9, 0)
    for enrolled, expected in ((monday, "Tue 2026-05-12 10:00"), (tuesday, "Wed 2026-05-13 10:00")):
        result, _ = due(
            day_two, channel="email", **{**asked, "previous": monday, "enrolled_at": enrolled}
        )
        assert shown(result, NY) == expected
