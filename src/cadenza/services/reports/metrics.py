"""What each history row counts for in the reports: its metrics, at which step, with what detail.

A row counts once per enrollment and key (`report_firsts`): the figures are unique
enrollments — one contact's pass through a sequence — never raw event counts. Message
metrics count at their step and at the sequence as a whole (step `*`), so that a sequence's
reply rate is over contacts, not over messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

WHOLE = "*"  # the step of a figure about the sequence as a whole
# History event -> the message metric it is (counted at its step and at WHOLE).
MESSAGE_METRICS = {
    "message_sent": "sent",
    "message_failed": "failed",
    "opened": "opened",
    "clicked": "clicked",
    "replied": "replied",
    "bounced": "bounced",
    "unsubscribed": "unsubscribed",
    "sms_opted_out": "opted_out",
    "complained": "complained",
}
# Engagement with one message: credited to the enrollment whose message it was only.
ABOUT_A_MESSAGE = {"opened", "clicked", "bounced", "complained"}
# Events of a step: each is one reach of the step (the funnel's first column).
STEP_EVENTS = {"step_executed", "skipped", "deferred", "step_error", "task_created"}
_AT_TIME = re.compile(r" at \d{4}-\d\d-\d\dT\S*$")


class Hit(NamedTuple):
    """One counter a history row adds to (once per enrollment)."""

    metric: str
    step: str
    detail: str
    who: str
    variant: str = ""


def reason_class(reason: str | None) -> str:
    """A reason without its particulars: what a report groups skips, deferrals and exits by."""
    if not reason:
        return ""
    if "→" in reason:  # "Saturday → Monday 09:00 America/Chicago: business days only"
        text = reason.rpartition(": ")[2]
    else:  # "condition false: ...", "held: sender ...", "replied at 2026-..."
        text = reason.partition(": ")[0]
    text = _AT_TIME.sub("", text).partition(" (")[0]
    return text.strip()[:100]


def hits(row: Mapping[str, Any]) -> Iterator[Hit]:
    """The counters one history row adds to (none for rows of no enrollment)."""
    if row.get("enrollment_id") is None or row.get("sequence_id") is None:
        return
    kind, step, data = row["type"], row.get("step") or "", row.get("data") or {}
    if kind in MESSAGE_METRICS:
        about = data.get("enrollment_id")
        if kind in ABOUT_A_MESSAGE and about is not None and about != row["enrollment_id"]:
            return  # an open of another sequence's message
        metric, who = MESSAGE_METRICS[kind], str(data.get("sender") or "")[:320]
        if step:
            yield Hit(metric, step[:100], "", who, str(data.get("variant") or "")[:50])
        yield Hit(metric, WHOLE, "", who)
        return
    yield from _enrollment_hits(kind, step[:100], row.get("reason"), data, row.get("actor"))


def _enrollment_hits(
    kind: str, step: str, reason: str | None, data: Mapping[str, Any], actor: Any
) -> Iterator[Hit]:
    if kind == "enrolled":
        yield Hit("enrolled", WHOLE, "", "")
    elif kind == "completed":
        yield Hit("completed", WHOLE, "", "")
        yield Hit("outcome", WHOLE, str(data.get("outcome") or "neutral")[:100], "")
    elif kind == "exited":
        yield Hit("exited", WHOLE, reason_class(reason), "")
    elif kind == "task_completed":
        yield Hit("task_completed", step, str(data.get("outcome") or "")[:100], "")
    elif kind in ("call_logged", "manual_call"):
        who = str(actor or "")[:100]
        yield Hit("call_logged", WHOLE, who, who)
    if kind in STEP_EVENTS and step:
        yield Hit("reached", step, "", "")
        if kind == "step_executed":
            yield Hit("ran", step, "", "")
        elif kind in ("skipped", "deferred"):
            yield Hit(kind, step, reason_class(reason), "")
        elif kind == "step_error":
            yield Hit("error", step, "", "")
        else:
            yield Hit("task_created", step, str(data.get("kind") or ""), "")
