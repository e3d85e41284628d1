"""Days off: holiday calendars by name (us-sales, none, `holidays` countries); policy days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta
from functools import lru_cache

import holidays as holidays_package

from cadenza.core.definition import Schedule
from cadenza.core.zones import split_calendar

MON, THU, FRI, SAT, SUN = 0, 3, 4, 5, 6


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0 = Monday) of a month; n = -1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date | None:
    """A Saturday holiday is observed on Friday, a Sunday one on Monday."""
    if day.weekday() == SAT:
        return day - timedelta(days=1)
    if day.weekday() == SUN:
        return day + timedelta(days=1)
    return None


def us_sales(year: int) -> dict[date, str]:
    """The US sales calendar of DESIGN.md section 5, exactly (only July 4 has an observed day)."""
    days = {
        date(year, 1, 1): "New Year's Day",
        nth_weekday(year, 1, MON, 3): "Martin Luther King Jr. Day",
        nth_weekday(year, 2, MON, 3): "Presidents' Day",
        nth_weekday(year, 5, MON, -1): "Memorial Day",
        date(year, 6, 19): "Juneteenth",
        date(year, 7, 4): "Independence Day",
        nth_weekday(year, 9, MON, 1): "Labor Day",
        nth_weekday(year, 11, THU, 4): "Thanksgiving",
        date(year, 12, 24): "Christmas Eve",
        date(year, 12, 25): "Christmas Day",
        date(year, 12, 31): "New Year's Eve",
    }
    observed = _observed(date(year, 7, 4))
    if observed is not None:
        days[observed] = "Independence Day (observed)"
    return days


@lru_cache(maxsize=4096)
def holidays_of(calendar: str, year: int) -> dict[date, str]:
    """Every holiday of a named calendar in one year, by date (cached per calendar and year)."""
    if calendar == "none":
        return {}
    if calendar == "us-sales":
        return us_sales(year)
    country, subdivision = split_calendar(calendar)
    found = holidays_package.country_holidays(country, subdiv=subdivision, years=year)
    return {day: str(name) for day, name in found.items() if day.year == year}


def holiday_name(calendar: str, day: date) -> str | None:
    """The holiday's name on `day` in a named calendar, or None."""
    return holidays_of(calendar, day.year).get(day)


# --- a policy's working days -----------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MEMO_LIMIT = 4096


def weekdays_of(days: str | Sequence[str]) -> frozenset[int]:
    """The weekday numbers (0 = Monday) a policy's `days` allow."""
    if days == "every_day":
        return frozenset(range(7))
    if days == "business":
        return frozenset(range(5))
    return frozenset(WEEKDAYS.index(day) for day in days)


def is_holiday(day: date, policy: Schedule) -> str | None:
    """The holiday's name on `day` under the policy's calendars (ignoring run_on_holidays)."""
    name = holiday_name(policy.holidays, day)
    if name is not None:
        return name
    return "extra holiday" if day in policy.extra_holidays else None


class DayRules:
    """Which local days and hours a policy allows, and why a day is off."""

    __slots__ = ("after", "before", "closes", "days_rule", "opens", "policy", "weekdays")

    def __init__(self, policy: Schedule) -> None:
        self.policy = policy
        self.weekdays = weekdays_of(policy.days)
        self.days_rule = _days_rule(policy.days)
        hours = policy.hours
        # No hours: the whole day, from midnight to the next midnight (closes None).
        self.opens: time = hours.open if hours else time(0, 0)
        self.closes: time | None = hours.close if hours else None
        self.before = f"before {self.opens:%H:%M}"
        self.after = f"after {self.closes or self.opens:%H:%M}"

    def off_day(self, day: date) -> bool:
        """Whether the policy's days leave this local day out (weekends on `business`)."""
        return day.weekday() not in self.weekdays

    def holiday(self, day: date) -> str | None:
        """The label of a holiday that stops steps on this day ("Thanksgiving (us-sales)")."""
        return None if self.policy.run_on_holidays else _holiday_label(day, self.policy)

    def working(self, day: date) -> bool:
        """A business day: one of the policy's days and not a holiday (unless run_on_holidays)."""
        return not self.off_day(day) and self.holiday(day) is None


def _days_rule(days: str | Sequence[str]) -> str:
    if days == "business":
        return "business days only"
    if days == "every_day":
        return "every day"
    return "days " + ", ".join(days) + " only"


def _holiday_label(day: date, policy: Schedule) -> str | None:
    name = holiday_name(policy.holidays, day)
    if name is not None:
        return f"{name} ({policy.holidays})"
    return f"{day:%Y-%m-%d} (extra_holidays)" if day in policy.extra_holidays else None


_rules: dict[int, DayRules] = {}


def day_rules(policy: Schedule) -> DayRules:
    """The DayRules of a policy, kept per policy object (policies are immutable)."""
    found = _rules.get(id(policy))
    # The cached entry holds its policy, so an id cannot be reused while it is cached.
    if found is not None and found.policy is policy:
        return found
    if len(_rules) > _MEMO_LIMIT:
        _rules.clear()
    found = _rules[id(policy)] = DayRules(policy)
    return found
