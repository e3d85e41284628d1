"""Sequence pages: the list with pause/resume, and one sequence with its dry-run timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.access import SHARING_ACCESS, SHARING_MODES
from cadenza.errors import Forbidden, NotFound
from cadenza.services import contacts, enrollments, history, reports
from cadenza.services import sequences as sequence_service
from cadenza.services import tasks as task_service
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.web.actions import perform, users_typed
from cadenza.web.deps import PageViewer
from cadenza.web.describe import schedule_lines, step_lines
from cadenza.web.errors import page_router
from cadenza.web.rendering import page
from cadenza.web.timeline import dry_run, zone_choices

router = page_router()
RECENT = 25
EDIT = "edit sequences"
# What each button does, and how its result reads in the flash message.
CHANGES = {
    "pause": (sequence_service.pause, "paused", "held"),
    "resume": (sequence_service.resume, "resumed", "released"),
    "activate": (sequence_service.activate, "activated", "released"),
}


@router.get("/")
def sequences_page(request: Request, viewer: PageViewer) -> Response:
    """Every sequence the person sees: status, steps, version, enrolled, remaining tasks."""
    with request.app.state.sessions() as session:
        rows = sequence_service.list_sequences(session=session, viewer=viewer)
        remaining = task_service.remaining_by_sequence(session=session)
        rates = reports.headlines(session=session, names=[r.name for r in rows], viewer=viewer)
    context = {"sequences": rows, "remaining": remaining, "rates": rates}
    return page(request, "sequences.html", context)


@router.get("/sequences/{name:path}")
def sequence_page(
    request: Request, viewer: PageViewer, name: str, tz: str | None = None
) -> Response:
    """One sequence: policy, steps, versions, enrollments, recent history and a dry run."""
    now = request.app.state.clock.now()
    with request.app.state.sessions() as session:
        context = _sequence_context(session, name, viewer)
    zone = tz or None
    context["timeline"] = dry_run(context["definition"], zone, now)
    context["zone"] = zone
    context["zones"] = zone_choices(zone)
    return page(request, "sequence.html", context)


def _sequence_context(session: Session, name: str, viewer: Viewer) -> dict[str, Any]:
    detail = sequence_service.sequence_detail(session=session, name=name, viewer=viewer)
    try:
        access.sequence_for(session=session, viewer=viewer, name=name, privilege=EDIT)
        editable = True
    except Forbidden:
        editable = False
    _version, definition = sequence_service.latest_definition(session=session, name=name)
    recent = history.list_history(session=session, sequence=name, limit=RECENT, viewer=viewer)
    recent = recent[::-1]
    contact_ids = [row["contact_id"] for row in recent if row["contact_id"] is not None]
    return {
        "sequence": detail,
        "definition": definition,
        "schedule": schedule_lines(definition),
        "steps": step_lines(definition),
        "counts": enrollments.enrollment_counts(session=session, sequence=name),
        "remaining": task_service.remaining_by_sequence(session=session).get(name, 0),
        "recent": recent,
        "names": contacts.contact_names(session=session, contact_ids=contact_ids),
        "editable": editable,
        "modes": SHARING_MODES,
        "levels": SHARING_ACCESS,
        "rates": reports.headlines(session=session, names=[name], viewer=viewer).get(name),
    }


@router.post("/sequences/{name:path}/sharing")
def change_sharing(
    request: Request,
    viewer: PageViewer,
    name: str,
    mode: Annotated[str, Form(max_length=16)],
    level: Annotated[str, Form(max_length=8)],
    team: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Who else sees and works the sequence: its sharing, access and team (its editors)."""
    emails = [e for e in team.replace(",", " ").split() if e]
    back = "/sequences/" + quote(name, safe="")

    def change(session: Session, now: datetime) -> str:
        seq = sequence_service.change_sharing(
            session=session,
            name=name,
            now=now,
            mode=mode,
            level=level,
            team=emails,
            viewer=viewer,
        )
        return f"{name}: shared with {seq.sharing} ({seq.sharing_access}); team saved."

    return perform(request, back, users_typed(change), form=True)


@router.post("/sequences/{name:path}/{verb}")
def change_sequence(
    request: Request,
    viewer: PageViewer,
    name: str,
    verb: str,
    back: Annotated[str, Form()] = "/",
) -> Response:
    """Pause, resume or activate a sequence, then go back to the page the button was on."""
    if verb not in CHANGES:
        raise NotFound(f"sequences cannot be {verb!r}-ed here")
    act, done, moved = CHANGES[verb]

    def change(session: Session, now: datetime) -> str:
        count = act(session=session, name=name, now=now, actor=viewer.actor, viewer=viewer)
        return f"{name} {done}: {count} enrollment{'' if count == 1 else 's'} {moved}."

    return perform(request, back, change)
