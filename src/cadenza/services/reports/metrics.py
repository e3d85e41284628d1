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


class Facts(NamedTuple):
    """What of a history row its counters depend on (its data's few keys, already read)."""

    type: str
    step: str | None
    reason: str | None
    actor: str | None
    enrollment_id: int | None
    sequence_id: int | None
    about: Any  # data.enrollment_id: whose message an open, click or bounce is about
    sender: Any
    variant: Any
    outcome: Any
    kind: Any


def facts(row: Mapping[str, Any]) -> Facts:
    """The facts of an events-table row."""
    data = row.get("data") or {}
    return Facts(
        row["type"], row.get("step"), row.get("reason"), row.get("actor"),
        row.get("enrollment_id"), row.get("sequence_id"), data.get("enrollment_id"),
        data.get("sender"), data.get("variant"), data.get("outcome"), data.get("kind"),
    )  # fmt: skip


def hits(row: Mapping[str, Any]) -> Iterator[Hit]:
    """The counters one history row adds to (none for rows of no enrollment)."""
    return hits_of(facts(row))


def hits_of(row: Facts) -> Iterator[Hit]:
    """The counters a row with these facts adds to."""
    if row.enrollment_id is None or row.sequence_id is None:
        return
    kind, step = row.type, row.step or ""
    if kind in MESSAGE_METRICS:
        about = row.about
        if kind in ABOUT_A_MESSAGE and about is not None and about != row.enrollment_id:
            return  # an open of another sequence's message
        metric, who = MESSAGE_METRICS[kind], str(row.sender or "")[:320]
        if step:
            yield Hit(metric, step[:100], "", who, str(row.variant or "")[:50])
        yield Hit(metric, WHOLE, "", who)
        return
    yield from _enrollment_hits(kind, step[:100], row)


def _enrollment_hits(kind: str, step: str, row: Facts) -> Iterator[Hit]:
    reason, actor = row.reason, row.actor
    if kind == "enrolled":
        yield Hit("enrolled", WHOLE, "", "")
    elif kind == "completed":
        yield Hit("completed", WHOLE, "", "")
        yield Hit("outcome", WHOLE, str(row.outcome or "neutral")[:100], "")
    elif kind == "exited":
        yield Hit("exited", WHOLE, reason_class(reason), "")
    elif kind == "task_completed":
        yield Hit("task_completed", step, str(row.outcome or "")[:100], "")
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
            yield Hit("task_created", step, str(row.kind or ""), "")
