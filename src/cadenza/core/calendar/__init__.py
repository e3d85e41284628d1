"""Send policies (DESIGN.md section 5): allowed instants, waits, and why a step moved.

Pure: every function takes the instants it needs and never reads the clock. Instants come in
and go out as aware datetimes in UTC; local time exists only inside these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.core.calendar.allowed import DEFAULT_QUIET as DEFAULT_QUIET
    from cadenza.core.calendar.allowed import QUIET_CHANNELS as QUIET_CHANNELS
    from cadenza.core.calendar.allowed import SEARCH_DAYS as SEARCH_DAYS
    from cadenza.core.calendar.allowed import NoAllowedTime as NoAllowedTime
    from cadenza.core.calendar.allowed import PastEnd as PastEnd
    from cadenza.core.calendar.allowed import QuietHours as QuietHours
    from cadenza.core.calendar.allowed import is_allowed as is_allowed
    from cadenza.core.calendar.allowed import local_instant as local_instant
    from cadenza.core.calendar.allowed import next_allowed as next_allowed
    from cadenza.core.calendar.allowed import policy_zone as policy_zone
    from cadenza.core.calendar.allowed import recipient_zone as recipient_zone
    from cadenza.core.calendar.holidays import is_holiday as is_holiday
    from cadenza.core.calendar.waits import add_duration as add_duration
    from cadenza.core.calendar.waits import apply_wait as apply_wait
    from cadenza.core.calendar.waits import describe_wait as describe_wait
    from cadenza.core.calendar.waits import due as due
else:
    __getattr__, __dir__ = exports(__name__)
