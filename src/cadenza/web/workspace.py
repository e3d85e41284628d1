"""What the rep's pages share: the person's time zone, the to-do list's filter in the URL,
and a change that goes on to a page it names once it is done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.zones import is_timezone
from cadenza.errors import Conflict, ValidationFailed
from cadenza.services.tasks import TaskFilter
from cadenza.store.db import writing
from cadenza.web.rendering import redirect

# The browser's own zone, which cadenza.js writes on every page (IANA name, checked here).
ZONE_COOKIE = "cadenza_tz"
FILTER_KEYS = ("assignee", "type", "sequence", "priority", "due", "status")

# A change that says what happened and where to go next.
Onward = Callable[[Session, datetime], tuple[str, str]]


def user_zone(request: Request) -> str:
    """The person's zone: the one on their profile, else their browser's, else the site's
    fallback zone."""
    chosen = getattr(getattr(request.state, "user", None), "timezone", None)
    if chosen and is_timezone(chosen):
        return str(chosen)
    named = request.cookies.get(ZONE_COOKIE, "")
    if named and is_timezone(named):
        return named
    fallback: str = request.app.state.settings.fallback_timezone
    return fallback


def task_filter(params: Mapping[str, str]) -> TaskFilter:
    """The to-do list's filter from URL parameters (unknown values: ValidationFailed)."""

    def text(key: str) -> str | None:
        value = params.get(key, "").strip()
        return value or None

    return TaskFilter(
        assignee=text("assignee") or "me",
        kind=text("type"),
        sequence=text("sequence"),
        priority=text("priority"),
        due=text("due"),
        status=text("status") or "open",
    ).checked()


def filter_from_text(query: str) -> TaskFilter:
    """The filter a form carried as a query string (the list a task was opened from)."""
    pairs = {k: v for k, v in parse_qsl(query[:2000]) if k in FILTER_KEYS}
    return task_filter(pairs)


def query_text(flt: TaskFilter, **extra: str | int) -> str:
    """`?…` for a filter (and extra parameters), or '' when there is nothing to say."""
    values: dict[str, str | int] = {**flt.query(), **{k: v for k, v in extra.items() if v}}
    return "?" + urlencode(values) if values else ""


def perform_onward(request: Request, back: str, change: Onward) -> Response:
    """Run `change` in one write transaction; on success go where it says with its message,
    on a conflict or a value the form got wrong go back with the reason (nothing changed)."""
    now = request.app.state.clock.now()
    try:
        with writing(request.app.state.sessions) as session:
            message, target = change(session, now)
    except (Conflict, ValidationFailed) as exc:
        return redirect(back, str(exc), kind="error")
    return redirect(target, message)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
