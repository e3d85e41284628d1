"""The sequence page's dry run: a sample contact through the latest version, by `simulate`."""

from __future__ import annotations

from datetime import datetime, timedelta

from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition
from cadenza.core.simulation import Timeline, simulate
from cadenza.core.zones import is_timezone
from cadenza.errors import ValidationFailed

HORIZON = timedelta(days=365)
SAMPLE = ContactView(
    first_name="Sam", last_name="Sample", email="sam@example.com", phone="+13125550123"
)
# The chooser's zones: where sales teams' contacts mostly are, then a few far ones.
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)


def zone_choices(selected: str | None) -> list[str]:
    """The zones offered, with the one asked for included even when not a usual one."""
    return [selected, *ZONES] if selected and selected not in ZONES else list(ZONES)


def dry_run(definition: Definition, zone: str | None, now: datetime) -> Timeline:
    """The sample contact (living in `zone`, or with no zone) enrolled now, for a year."""
    if zone and not is_timezone(zone):
        raise ValidationFailed(f"{zone!r} is not a time zone (use an IANA name like Europe/Paris)")
    contact = SAMPLE.model_copy(update={"timezone": zone or None})
    try:
        return simulate(definition, contact, start=now, until=now + HORIZON)
    except ValueError as exc:
        raise ValidationFailed(f"the dry run stopped: {exc}") from None
