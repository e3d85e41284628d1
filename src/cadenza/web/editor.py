"""The sequence editor: the definition as text with its lint problems as one types, a dry run
for a chosen contact beside it, saving through `apply`, and migrating running enrollments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.contact import ContactView
from cadenza.core.definition import Definition
from cadenza.core.simulation import simulate
from cadenza.errors import CadenzaError, DefinitionError, ValidationFailed
from cadenza.services.sequences import migrate
from cadenza.services.sequences.editing import (
    STARTER,
    check_text,
    contact_view,
    editable_source,
    migration_plan,
    save_text,
)
from cadenza.services.sequences.previews import message_steps, render_step, send_test_email
from cadenza.services.users import access
from cadenza.store.db import writing
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, redirect
from cadenza.web.timeline import HORIZON, SAMPLE

router = page_router()
SAMPLE_NAME = "Sam Sample (no time zone)"
Text = Annotated[str, Form(max_length=200_000)]


def _path(name: str) -> str:
    return "/sequences/" + quote(name, safe="")


@router.get("/sequences/new")
def new_sequence(request: Request, viewer: PageViewer) -> Response:
    """An empty editor with a starting definition (for those who may create sequences)."""
    access.require(viewer, "create sequences")
    context: dict[str, Any] = {"name": None, "text": STARTER.format(name="New sequence")}
    context["problems"] = []
    return page(request, "editor.html", context)


@router.get("/sequences/{name:path}/edit")
def edit_sequence(request: Request, viewer: PageViewer, name: str) -> Response:
    """The latest version's text in the editor, with what migrating would move."""
    with request.app.state.sessions() as session:
        text = editable_source(session=session, name=name, viewer=viewer)
        plan = migration_plan(session=session, name=name, viewer=viewer)
    context = {"name": name, "text": text, "problems": [], "plan": plan}
    return page(request, "editor.html", context)


@router.post("/sequences/lint")
def lint_partial(
    request: Request,
    viewer: PageViewer,
    text: Text = "",
    step: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The problems of the text being edited, each at its line (an htmx fragment), and the
    message steps the preview offers (swapped in beside it)."""
    with request.app.state.sessions() as session:
        checked = check_text(session=session, text=text)
    keys = message_steps(checked.definition) if checked.definition is not None else []
    context = {"problems": checked.problems, "checked": True, "keys": keys, "chosen": step}
    return page(request, "editor_problems.html", context)


@router.post("/sequences/preview")
def preview_partial(
    request: Request,
    viewer: PageViewer,
    text: Text = "",
    step: Annotated[str, Form(max_length=100)] = "",
    contact: Annotated[str, Form(max_length=20)] = "",
    send: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """A message step rendered for the chosen contact; with `send`, also emailed to oneself."""
    now = request.app.state.clock.now()
    settings = request.app.state.settings
    context: dict[str, Any] = {"rendered": None, "error": None, "sent_to": None}
    try:
        with writing(request.app.state.sessions) as session:
            definition = _valid(session, text)
            person = _contact(session, contact)
            act = send_test_email if send else render_step
            extra = {"viewer": viewer} if send else {}
            context["rendered"] = act(
                session=session,
                definition=definition,
                key=step,
                contact=person,
                now=now,
                settings=settings,
                **extra,
            )
            context["sent_to"] = viewer.email if send else None
    except CadenzaError as exc:
        context["error"] = str(exc)
    return page(request, "editor_preview.html", context)


def _valid(session: Session, text: str) -> Definition:
    checked = check_text(session=session, text=text)
    if checked.definition is None or checked.problems:
        raise ValidationFailed("fix the problems first: this needs a valid definition")
    return checked.definition


def _contact(session: Session, contact: str) -> ContactView:
    """The contact by the id typed, else the sample contact."""
    typed = contact.strip()
    if not typed:
        return SAMPLE
    if not typed.isdigit():
        raise ValidationFailed(f"{typed!r} is not a contact id")
    return contact_view(session=session, contact_id=int(typed))


@router.post("/sequences/dry-run")
def dry_run_partial(
    request: Request,
    viewer: PageViewer,
    text: Text = "",
    contact: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The timeline of the edited text for a contact (by id) or the sample contact."""
    now = request.app.state.clock.now()
    context: dict[str, Any] = {"timeline": None, "error": None, "who": SAMPLE_NAME}
    try:
        with request.app.state.sessions() as session:
            definition = _valid(session, text)
            person = _contact(session, contact)
        if contact.strip():
            context["who"] = f"contact {contact.strip()}"
        context["timeline"] = simulate(definition, person, start=now, until=now + HORIZON)
    except (CadenzaError, ValueError) as exc:
        context["error"] = str(exc)
    return page(request, "editor_timeline.html", context)


@router.post("/sequences/new")
def save_new(
    request: Request, viewer: PageViewer, text: Text, draft: Annotated[str, Form()] = ""
) -> Response:
    """Create the sequence (a draft unless asked to start it) from the edited text."""
    return _save(request, viewer, text, None, draft=bool(draft))


@router.post("/sequences/{name:path}/edit")
def save_edit(request: Request, viewer: PageViewer, name: str, text: Text) -> Response:
    """A new version of the sequence from the edited text (none when nothing changed)."""
    return _save(request, viewer, text, name, draft=False)


def _save(
    request: Request, viewer: PageViewer, text: str, name: str | None, *, draft: bool
) -> Response:
    now = request.app.state.clock.now()
    settings = request.app.state.settings
    try:
        with writing(request.app.state.sessions) as session:
            result = save_text(
                session=session,
                text=text,
                now=now,
                viewer=viewer,
                settings=settings,
                editing=name,
                draft=draft,
            )
    except (DefinitionError, ValidationFailed) as exc:
        problems = exc.problems if isinstance(exc, DefinitionError) else []
        context = {"name": name, "text": text, "problems": problems, "error": str(exc)}
        if isinstance(exc, DefinitionError):
            context["error"] = f"Not saved: {len(problems)} problem(s) to fix."
        return page(request, "editor.html", context, status=422)
    if not result.changed:
        return redirect(_path(result.name) + "/edit", "Nothing changed: no new version.")
    if result.created:
        state = "a draft (activate it when ready)" if draft else "active"
        return redirect(_path(result.name), f"{result.name} created, {state}.")
    message = f"{result.name}: version {result.version} saved."
    return redirect(_path(result.name) + "/edit#migrate", message)


@router.post("/sequences/{name:path}/migrate")
async def migrate_running(request: Request, viewer: PageViewer, name: str) -> Response:
    """Move the running enrollments of older versions to the latest, step by mapped step."""
    form = await request.form()
    mapping = {
        str(key)[4:]: str(value)
        for key, value in form.multi_items()
        if str(key).startswith("map:") and str(value)
    }
    back = _path(name) + "/edit#migrate"

    def change(session: Session, now: datetime) -> str:
        plan = migration_plan(session=session, name=name, viewer=viewer)
        report = migrate(
            session=session,
            sequence=name,
            to_version=plan.version,
            step_map=mapping,
            now=now,
            actor=viewer.actor,
            viewer=viewer,
        )
        moved = sum(report.moved.values())
        return f"{moved} enrollment{'' if moved == 1 else 's'} moved to version {plan.version}."

    return perform(request, back, change, form=True)
