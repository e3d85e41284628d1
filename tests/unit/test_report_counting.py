"""The counting skips event types no report counts: none of those may count for anything."""

from __future__ import annotations

from datetime import UTC, datetime

from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.services.history import OTHER_TYPES
from cadenza.services.reports.counting import COUNTED
from cadenza.services.reports.metrics import hits


def _row(kind: str) -> dict[str, object]:
    data = {"enrollment_id": 7, "sender": "s@example.com", "outcome": "positive", "kind": "call"}
    return {
        "time": datetime(2026, 3, 2, tzinfo=UTC),
        "type": kind,
        "contact_id": 1,
        "sequence_id": 2,
        "enrollment_id": 7,
        "step": "intro",
        "actor": "ana@example.com",
        "reason": "held: sender paused",
        "data": data,
    }


def test_every_type_that_counts_for_something_is_counted() -> None:
    every = CONTACT_EVENTS | ENROLLMENT_EVENTS | OTHER_TYPES | COUNTED
    counting = {kind for kind in every if list(hits(_row(kind)))}
    assert counting == set(COUNTED)  # nothing skipped that a report would count
    assert "note_added" not in COUNTED and "opened" in COUNTED
