"""Sequence pages: the list with pause/resume, and one sequence with its dry-run timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.access import SHARING_ACCESS, SHARING_MODES, may
from cadenza.errors import Forbidden, NotFound
from cadenza.services import audiences, contacts, reports
from cadenza.services import sequences as sequence_service
from cadenza.services.enrollments.queue import (
    QueueFilter,
    queue_page,
    remaining_tasks,
    status_counts,
)
from cadenza.services.sequences import overview
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
    "end": (sequence_service.end, "ended", "exited"),
}


@router.get("/")
@router.get("/sequences")
def sequences_page(request: Request, viewer: PageViewer, archived: bool = False) -> Response:
    """Every sequence the person sees (archived ones when asked), with Aloware's columns."""
    with request.app.state.sessions() as session:
        rows = overview.sequence_overview(session=session, viewer=viewer, archived=archived)
        rates = reports.headlines(session=session, names=[r.name for r in rows], viewer=viewer)
    may_create = may(viewer.person, "create sequences")
    context = {"sequences": rows, "archived": archived, "may_create": may_create, "rates": rates}
    return page(request, "sequences.html", context)


@router.get("/sequences/{name:path}")
def sequence_page(
    request: Request,
    viewer: PageViewer,
    name: str,
    tz: str | None = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    step: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """One sequence: settings, triggers, senders, steps, its queue, history and a dry run."""
    now = request.app.state.clock.now()
    filters = QueueFilter(status or None, step or None, q or None)
    with request.app.state.sessions() as session:
        context = _sequence_context(session, name, viewer)
        context["queue"] = queue_page(
            session=session,
            sequence=context["seq"],
            filters=filters,
            page=page_number,
            counts=context["counts"],
        )
    context["filters"] = filters
    zone = tz or None
    context["timeline"] = dry_run(context["definition"], zone, now)
    context["zone"] = zone
    context["zones"] = zone_choices(zone)
    return page(request, "sequence.html", context)


def _may(session: Session, viewer: Viewer, name: str, privilege: str) -> bool:
    try:
        access.sequence_for(session=session, viewer=viewer, name=name, privilege=privilege)
    except Forbidden:
        return False
    return True


def _sequence_context(session: Session, name: str, viewer: Viewer) -> dict[str, Any]:
    detail = sequence_service.sequence_detail(session=session, name=name, viewer=viewer)
    seq = access.sequence_for(session=session, viewer=viewer, name=name)
    editable = _may(session, viewer, name, EDIT)
    _version, definition = sequence_service.latest_definition(session=session, name=name)
    recent = overview.recent_events(session=session, sequence=seq, limit=RECENT)
    contact_ids = [row["contact_id"] for row in recent if row["contact_id"] is not None]
    return {
        "seq": seq,
        "sequence": detail,
        "definition": definition,
        "schedule": schedule_lines(definition),
        "steps": step_lines(definition),
        "counts": status_counts(session=session, sequence=seq),
        "remaining": remaining_tasks(session=session, sequence=seq),
        "recent": recent,
        "names": contacts.contact_names(session=session, contact_ids=contact_ids),
        "editable": editable,
        "operable": _may(session, viewer, name, "enroll"),
        "triggers": definition.enrollment.triggers,
        "modes": SHARING_MODES,
        "levels": SHARING_ACCESS,
        "rates": reports.headlines(session=session, names=[name], viewer=viewer).get(name),
        "audience": audiences.status(session=session, sequence_id=seq.id, definition=definition),
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


@router.post("/sequences/{name:path}/clone")
def clone_sequence(
    request: Request,
    viewer: PageViewer,
    name: str,
    new_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A draft copy of the sequence under a new name, opened in the editor."""
    wanted = new_name.strip() or f"{name} (copy)"

    def change(session: Session, now: datetime) -> str:
        sequence_service.clone(
            session=session, name=name, new_name=wanted, now=now, actor=viewer.actor, viewer=viewer
        )
        return f"{wanted}: a draft copy of {name}; change it, then activate it."

    target = "/sequences/" + quote(wanted, safe="") + "/edit"
    back = "/sequences/" + quote(name, safe="")
    return perform(request, back, change, form=True, done=target)


@router.post("/sequences/{name:path}/{verb}")
def change_sequence(
    request: Request,
    viewer: PageViewer,
    name: str,
    verb: str,
    back: Annotated[str, Form()] = "/",
) -> Response:
    """Activate, pause, resume, end, archive or delete a sequence, then go back."""
    if verb in ("archive", "delete"):
        return _put_away(request, viewer, name, verb, back)
    if verb not in CHANGES:
        raise NotFound(f"sequences cannot be {verb!r}-ed here")
    act, done, moved = CHANGES[verb]
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        count = act(
            session=session,
            name=name,
            now=now,
            actor=viewer.actor,
            viewer=viewer,
            settings=settings,
        )
        return f"{name} {done}: {count} enrollment{'' if count == 1 else 's'} {moved}."

    return perform(request, back, change)


def _put_away(request: Request, viewer: PageViewer, name: str, verb: str, back: str) -> Response:
    """Archive (hidden from the list unless asked) or delete; either way back to the list."""
    act = sequence_service.archive if verb == "archive" else sequence_service.delete

    def change(session: Session, now: datetime) -> str:
        act(session=session, name=name, now=now, actor=viewer.actor, viewer=viewer)
        return f"{name} {verb}d."

    return perform(request, back, change, done="/sequences")
