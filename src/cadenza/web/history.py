"""The history report: events searched by contact (name, email, phone), type and timeframe
in the person's zone, with the true total, pages newest first, and a CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from cadenza.core.events import CONTACT_EVENTS, ENROLLMENT_EVENTS
from cadenza.errors import ValidationFailed
from cadenza.services import history_report as report
from cadenza.services.history_report import HistoryQuery
from cadenza.services.tasks import queue
from cadenza.services.users.access import Viewer
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page
from cadenza.web.workspace import user_zone

router = page_router()
PAGE_SIZE = 50
SEQUENCE_EVENTS = frozenset(
    f"sequence_{verb}"
    for verb in ("activated", "paused", "resumed", "ended", "archived", "cloned", "deleted")
)
# What people do from the workspace, besides the engine's and the contacts' own events.
WORK_EVENTS = frozenset({"note_added", "task_rescheduled", "contact_deleted"})
TYPES = sorted(CONTACT_EVENTS | ENROLLMENT_EVENTS | SEQUENCE_EVENTS | WORK_EVENTS)
DEFAULT_TIMEFRAME = "last_7_days"
COUNT_CAP = 10_000  # past this many events the page says "more than"; a link counts them all
KEYS = ("q", "type", "timeframe", "from", "to", "sequence", "contact")
CSV_COLUMNS = ("time", "type", "sequence", "contact_id", "contact", "step", "reason", "by", "data")


def _query(request: Request, params: Mapping[str, str]) -> tuple[HistoryQuery, dict[str, Any]]:
    """The report's query from the URL, and the filters as the form shows them."""
    types = [t for t in params.get("type", "").split(",") if t.strip()] if "type" in params else []
    if len(types) > len(TYPES):
        raise ValidationFailed("too many event types")
    since = params.get("since", "").strip()  # a link's "since this date" (all of it after)
    preset = params.get("timeframe", "") or ("custom" if since else DEFAULT_TIMEFRAME)
    now = request.app.state.clock.now()
    zone = user_zone(request)
    low = params.get("from", "") or since
    start, end = report.timeframe(preset, now, zone, low, params.get("to", ""))
    query = HistoryQuery(
        search=params.get("q", "").strip() or None,
        types=tuple(t.strip() for t in types),
        start=start,
        end=end,
        sequence=params.get("sequence", "").strip() or None,
        contact_id=_contact_id(params.get("contact", "")),
    )
    filters = {
        "q": params.get("q", ""),
        "type": types[0] if len(types) == 1 else ",".join(types),
        "timeframe": preset,
        "from": low,
        "to": params.get("to", ""),
        "sequence": params.get("sequence", ""),
        "contact": params.get("contact", ""),
    }
    return query, filters


def _contact_id(text: str) -> int | None:
    """One contact's events (a link from its page): an id, else the form's mistake."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise ValidationFailed(f"contact {text!r} is not a contact id (a number)")
    return int(text)


@router.get("/history")
def history_page(request: Request, viewer: PageViewer, cursor: str = "") -> Response:
    """The newest events first, as filtered, a page at a time; the total counted in full."""
    query, filters = _query(request, request.query_params)
    before = report.parse_cursor(cursor)
    exact = request.query_params.get("count") == "all"
    with request.app.state.sessions() as session:
        cap = None if exact else COUNT_CAP
        total = report.count(session=session, query=query, viewer=viewer, cap=cap)
        rows = report.page(
            session=session, query=query, viewer=viewer, before=before, limit=PAGE_SIZE
        )
        sequences = queue.sequence_names(session=session, viewer=viewer)
    kept = {k: v for k, v in filters.items() if v}
    context = {
        "events": rows,
        "total": total,
        "more": not exact and total > COUNT_CAP,
        "cap": COUNT_CAP,
        "count_all": "/history?" + urlencode({**kept, "count": "all"}),
        "sequences": sequences,
        "types": TYPES if not query.types else sorted({*TYPES, *query.types}),
        "presets": report.PRESETS,
        "filters": filters,
        "kept": kept,
        "later": report.cursor_text(rows[-1]) if len(rows) == PAGE_SIZE else None,
        "paged": before is not None,
        "zone": user_zone(request),
    }
    return page(request, "history.html", context)


@router.get("/history/export.csv")
def export_history(request: Request, viewer: PageViewer) -> Response:
    """Every event the filters match as CSV, written as it is read (any number of rows)."""
    query, _ = _query(request, request.query_params)
    sessions = request.app.state.sessions
    zone = user_zone(request)
    return StreamingResponse(
        _csv_lines(sessions, query, viewer, zone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="history.csv"'},
    )


def _csv_lines(sessions: Any, query: HistoryQuery, viewer: Viewer, zone: str) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with sessions() as session:
        for count, row in enumerate(report.export(session=session, query=query, viewer=viewer)):
            writer.writerow(
                (
                    row.time.isoformat(),
                    row.type,
                    row.sequence or "",
                    row.contact_id or "",
                    _cell(row.contact or ""),
                    row.step or "",
                    _cell(row.reason or ""),
                    row.actor,
                    _cell(json.dumps(row.data, default=str)) if row.data else "",
                )
            )
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
