"""The power dialer: the logged-in rep's queue, the contact card and script, call next."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.channels.voice import VoiceProvider, make_voice_provider
from cadenza.services.voice import power
from cadenza.web.actions import perform
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page, words

router = page_router()


@router.get("/dialer")
def dialer_page(request: Request, viewer: PageViewer) -> Response:
    """The rep's queue, soonest first; the first call's contact card, script and outcomes."""
    with request.app.state.sessions() as session:
        entries = power.queue(session=session, viewer=viewer)
        current = entries[0] if entries else None
        context = {
            "entries": entries,
            "current": current,
            "outcomes": [(o, words(o)) for o in current.outcomes] if current else [],
            "call": current.call if current else None,
            "sink": request.app.state.settings.voice_provider == "sink",
            "my_phone": power.own_phone(session=session, viewer=viewer),
        }
    return page(request, "dialer.html", context)


@router.post("/dialer/{task_id}/call")
def call_next(request: Request, viewer: PageViewer, task_id: int) -> Response:
    """Click-to-call: ring the rep's phone and bridge it to the contact."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        call = power.call_next(session=session, viewer=viewer, task_id=task_id, now=now,
                               settings=settings, provider=_provider(request))  # fmt: skip
        return f"Calling your phone; answer it to be connected to {call.to}."

    return perform(request, "/dialer", change, form=True)


@router.post("/dialer/{task_id}/outcome")
def call_outcome(
    request: Request, viewer: PageViewer, task_id: int, outcome: Annotated[str, Form()]
) -> Response:
    """The call's outcome: logged, the task done, the sequence moved on."""
    settings = request.app.state.settings

    def change(session: Session, now: datetime) -> str:
        task = power.record_outcome(session=session, viewer=viewer, task_id=task_id,
                                    outcome=outcome, now=now, settings=settings)  # fmt: skip
        return f"Logged: {task.title} — {words(outcome)}."

    return perform(request, "/dialer", change, form=True)


@router.post("/dialer/phone")
def set_phone(request: Request, viewer: PageViewer, phone: Annotated[str, Form()]) -> Response:
    """The rep's own phone number, which "Call next" rings first."""
    region = request.app.state.settings.default_region

    def change(session: Session, now: datetime) -> str:
        saved = power.set_own_phone(session=session, viewer=viewer, phone=phone,
                                    default_region=region)  # fmt: skip
        return f"Your phone is {saved}: Call next rings it first."

    return perform(request, "/dialer", change, form=True)


def _provider(request: Request) -> VoiceProvider:
    state = request.app.state
    provider: VoiceProvider | None = getattr(state, "voice_provider", None)
    if provider is None:
        provider = state.voice_provider = make_voice_provider(state.settings)
    return provider
