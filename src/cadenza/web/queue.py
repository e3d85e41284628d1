"""A sequence's queue in bulk: pause, resume, move on, stop or remove the ticked rows or every
enrollment the queue's filter matches."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.services.enrollments.queue import QueueFilter
from cadenza.services.enrollments.selected import Selection, operate_selected
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router

router = page_router()
DONE = {
    "pause": "paused",
    "resume": "resumed",
    "move_on": "moved on to their next step",
    "stop": "stopped",
    "remove": "removed",
}


@router.post("/sequences/{name:path}/queue")
def queue_action(
    request: Request,
    viewer: PageViewer,
    name: str,
    verb: Annotated[str, Form(max_length=16)],
    scope: Annotated[str, Form(max_length=8)] = "ticked",
    ids: Annotated[list[int], Form(max_length=1000)] = [],  # noqa: B006 (FastAPI copies it)
    disposition: Annotated[str, Form(max_length=16)] = "cancel",
    status: Annotated[str, Form(max_length=16)] = "",
    step: Annotated[str, Form(max_length=100)] = "",
    q: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One operation on the queue's ticked rows, or on all that its filter matches."""
    filters = QueueFilter(status or None, step or None, q or None)
    selection = Selection(filters, None if scope == "all" else tuple(ids))
    query = urlencode({k: v for k, v in (("status", status), ("step", step), ("q", q)) if v})
    back = "/sequences/" + quote(name, safe="") + (f"?{query}" if query else "") + "#queue"

    def change(session: Session, now: datetime) -> str:
        result = operate_selected(
            session=session,
            sequence=name,
            verb=verb,
            selection=selection,
            now=now,
            disposition=disposition,
            viewer=viewer,
        )
        text = f"{result.changed} of {result.selected} enrollments {DONE.get(verb, verb)}"
        if result.unchanged:
            text += f"; {result.unchanged} left as they were (their state does not allow it)"
        return text + "."

    return perform(request, back, change, form=True)
