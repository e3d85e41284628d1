"""Event names and the event record the pure domain reads (history rows, simulated events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Events that happen to a contact (from channels, people or steps).
CONTACT_EVENTS = frozenset(
    {
        "contact_created",
        "replied",
        "bounced",
        "unsubscribed",
        "complained",
        "sms_opted_out",
        "sms_opted_in",
        "out_of_office",
        "dnc",
        "dnc_changed",
        "call_logged",
        "call_answered",
        "manual_call",
        "meeting_booked",
        "appointment_scheduled",
        "appointment_shown",
        "appointment_canceled",
        "opened",
        "clicked",
        "tag_added",
        "tag_removed",
        "disposition_changed",
        "field_changed",
        "owner_changed",
        "lead_email_received",
        "inbound_message",
        "line_assigned",
    }
)

# Events that happen to an enrollment (written by the engine).
ENROLLMENT_EVENTS = frozenset(
    {
        "enrolled",
        "enroll_refused",
        "step_executed",
        "deferred",
        "skipped",
        "waiting",
        "task_created",
        "task_completed",
        "paused",
        "resumed",
        "exited",
        "completed",
        "removed",
        "migrated",
        "step_error",
        "message_queued",
        "message_sent",
        "message_failed",
        "message_suppressed",
    }
)


@dataclass(frozen=True)
class EventRecord:
    """One thing that happened, as conditions and the machine see it."""

    type: str
    time: datetime
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
