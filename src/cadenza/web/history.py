"""The history report: every event, filtered by sequence, contact, type and since when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.errors import ValidationFailed
from cadenza.services import contacts, history
from cadenza.services import sequences as sequence_service
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
SHOWN = 500
SEQUENCE_EVENTS = frozenset(
    f"sequence_{verb}"
    for verb in ("activated", "paused", "resumed", "ended", "archived", "cloned", "deleted")
)
TYPES = sorted(CONTACT_EVENTS | ENROLLMENT_EVENTS | SEQUENCE_EVENTS)


@router.get("/history")
def history_page(
    request: Request,
    viewer: PageViewer,
    sequence: str = "",
    contact: str = "",
    event_type: Annotated[str, Query(alias="type")] = "",
    since: str = "",
) -> Response:
    """The newest events first, as filtered."""
    contact_id = _contact_id(contact)
    start = _since(since)
    with request.app.state.sessions() as session:
        rows = history.list_history(
            session=session,
            sequence=sequence or None,
            contact_id=contact_id,
            types=[event_type] if event_type else None,
            since=start,
            limit=SHOWN,
            viewer=viewer,
        )[::-1]
        names = contacts.contact_names(
            session=session, contact_ids={r["contact_id"] for r in rows if r["contact_id"]}
        )
        listed = sequence_service.list_sequences(session=session, viewer=viewer)
        sequences = [row.name for row in listed]
    context = {
        "events": rows,
        "names": names,
        "sequences": sequences,
        "types": TYPES if not event_type or event_type in TYPES else [event_type, *TYPES],
        "filters": {"sequence": sequence, "contact": contact, "type": event_type, "since": since},
        "shown": SHOWN,
    }
    return page(request, "history.html", context)


def _contact_id(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise ValidationFailed(f"contact {text!r} is not a contact id (a number)")
    return int(text)


def _since(text: str) -> datetime | None:
    """A date (midnight UTC) or a date and time, as the filter's date field sends it."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"since {text!r} is not a date like 2026-03-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
