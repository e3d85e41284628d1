"""Cached look-ups of time zones and holiday calendars by name."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine knows."""
    return name in _zone_names() or name == "UTC"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name (cached; zoneinfo's own cache is per-key too)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(name) from exc


def split_calendar(name: str) -> tuple[str, str | None]:
    """'CA-ON' -> ('CA', 'ON'); 'US' -> ('US', None)."""
    country, _, subdivision = name.partition("-")
    return country.upper(), (subdivision.upper() or None)


def is_holiday_calendar(name: str) -> bool:
    """True for 'us-sales', 'none', or a country[-subdivision] the holidays package has."""
    if name in ("us-sales", "none"):
        return True
    import holidays  # its tables cost ~30 ms to load: only checking a calendar's name needs them

    country, subdivision = split_calendar(name)
    supported = holidays.list_supported_countries()
    if country not in supported:
        return False
    return subdivision is None or subdivision in supported[country]
