"""The senders page: mailboxes and lines with their caps and users; administrators change them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.core.access import may
from cadenza.errors import ValidationFailed
from cadenza.services import senders, users
from cadenza.web.actions import perform, users_typed
from cadenza.web.deps import PageViewer
from cadenza.web.errors import page_router
from cadenza.web.rendering import page

router = page_router()
BACK = "/senders"
MANAGE = "manage users, groups, senders and keys"
CAPS = ("per_second", "per_hour", "per_day")


@router.get("/senders")
def senders_page(request: Request, viewer: PageViewer) -> Response:
    """Every mailbox and line, its caps and the users it is assigned to."""
    state = request.app.state
    with state.sessions() as session:
        rows = senders.list_senders(session=session, now=state.clock.now(), settings=state.settings)
        people = [user.email for user in users.list_users(session=session)]
        manage = may(viewer.person, MANAGE)
        # The administrators' notice: mailboxes paused (by their health or by hand).
        paused = senders.pauses(session) if manage else []
    settings = state.settings
    limits = {
        "bounce": settings.health_max_bounce_rate,
        "complaint": settings.health_max_complaint_rate,
        "window": settings.health_window_days,
        "min_sends": settings.health_min_sends,
    }
    context = {"senders": rows, "people": people, "manage": manage, "pauses": paused}
    return page(request, "senders.html", context | {"limits": limits})


@router.post("/senders/{sender_id}/pause")
def pause_sender(
    request: Request,
    viewer: PageViewer,
    sender_id: int,
    paused: Annotated[str, Form(max_length=5)] = "1",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Pause a sender (with the reason) or resume it (administrators)."""
    stop = paused == "1"

    def change(session: Session, now: datetime) -> str:
        sender = senders.set_paused(
            session=session, sender_id=sender_id, paused=stop, now=now, reason=reason,
            viewer=viewer,
        )  # fmt: skip
        return f"{sender.address} {'paused' if stop else 'resumed'}."

    return perform(request, BACK, change, form=True)


@router.post("/senders")
def add_sender(
    request: Request,
    viewer: PageViewer,
    kind: Annotated[str, Form(max_length=8)],
    address: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)] = "",
    per_second: Annotated[str, Form(max_length=20)] = "",
    per_hour: Annotated[str, Form(max_length=20)] = "",
    per_day: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Describe a new mailbox or line (administrators)."""
    caps = _caps(per_second, per_hour, per_day)
    region = request.app.state.settings.default_region

    def change(session: Session, _now: datetime) -> str:
        sender = senders.add_sender(
            session=session,
            kind=kind,
            address=address,
            name=name,
            caps=caps,
            default_region=region,
            viewer=viewer,
        )
        return f"Added {sender.kind} sender {sender.address}."

    return perform(request, BACK, change, form=True)


@router.post("/senders/{sender_id}")
def change_sender(
    request: Request,
    viewer: PageViewer,
    sender_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
    per_second: Annotated[str, Form(max_length=20)] = "",
    per_hour: Annotated[str, Form(max_length=20)] = "",
    per_day: Annotated[str, Form(max_length=20)] = "",
    people: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Change a sender's name, caps (an empty cap is lifted) and users (administrators)."""
    caps = _caps(per_second, per_hour, per_day)
    emails = [e for e in people.replace(",", " ").split() if e]

    def change(session: Session, _now: datetime) -> str:
        sender = senders.change_sender(
            session=session, sender_id=sender_id, name=name, caps=caps, viewer=viewer
        )
        assigned = senders.assign_sender(
            session=session, sender_id=sender_id, emails=emails, viewer=viewer
        )
        to = ", ".join(assigned) or "nobody"
        return f"{sender.address}: caps saved; assigned to {to}."

    return perform(request, BACK, users_typed(change), form=True)


@router.post("/senders/{sender_id}/remove")
def remove_sender(request: Request, viewer: PageViewer, sender_id: int) -> Response:
    """Stop describing a sender: its address then sends without caps (administrators)."""

    def change(session: Session, _now: datetime) -> str:
        sender = senders.remove_sender(session=session, sender_id=sender_id, viewer=viewer)
        return f"Removed {sender.address}; it now sends without caps."

    return perform(request, BACK, change)


def _caps(*values: str) -> dict[str, Any]:
    """The caps a form gave: a number each, or None (no cap) when left empty."""
    caps: dict[str, Any] = {}
    for cap, raw in zip(CAPS, values, strict=True):
        text = raw.strip()
        try:
            caps[cap] = None if not text else float(text) if cap == "per_second" else int(text)
        except ValueError:
            raise ValidationFailed(f"{cap.replace('_', ' ')}: {text!r} is not a number") from None
    return caps
