"""Enrolling from the UI: pick contacts by search, tag or condition, see who would be enrolled
and who refused with the reasons, then confirm."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.errors import ValidationFailed
from cadenza.services.enrollments.preview import (
    Pick,
    enroll_picked,
    parse_condition,
    preview_enrollment,
)
from cadenza.services.users import access
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
Search = Annotated[str, Query(max_length=200)]


@router.get("/sequences/{name:path}/enroll")
def enroll_page(
    request: Request,
    viewer: PageViewer,
    name: str,
    q: Search = "",
    tag: Annotated[str, Query(max_length=100)] = "",
    where: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """The picking form and, once something is picked, what enrolling would do."""
    now = request.app.state.clock.now()
    context: dict[str, Any] = {"name": name, "q": q, "tag": tag, "where": where}
    context["preview"] = context["error"] = None
    with request.app.state.sessions() as session:
        access.sequence_for(session=session, viewer=viewer, name=name, privilege="enroll")
        try:
            pick = Pick(q or None, tag.strip() or None, parse_condition(where))
            if not pick.empty:
                context["preview"] = preview_enrollment(
                    session=session,
                    sequence=name,
                    pick=pick,
                    now=now,
                    settings=request.app.state.settings,
                    viewer=viewer,
                )
        except ValidationFailed as exc:
            context["error"] = str(exc)
    return page(request, "enroll.html", context)


@router.post("/sequences/{name:path}/enroll")
def enroll_confirmed(
    request: Request,
    viewer: PageViewer,
    name: str,
    q: Annotated[str, Form(max_length=200)] = "",
    tag: Annotated[str, Form(max_length=100)] = "",
    where: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Enroll what the pick names now (the preview's rules, applied again at this instant)."""
    path = "/sequences/" + quote(name, safe="")
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        pick = Pick(q or None, tag.strip() or None, parse_condition(where))
        if pick.empty:
            raise ValidationFailed("pick contacts first: a search, a tag or a condition")
        report = enroll_picked(
            session=session, sequence=name, pick=pick, now=now, settings=settings, viewer=viewer
        )
        refused = len(report.refused)
        return f"{len(report.enrolled)} enrolled in {name}; {refused} refused (see the history)."

    return perform(request, path + "/enroll", change, form=True, done=path + "#queue")
