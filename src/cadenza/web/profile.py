"""A person's own profile: the time zone their pages show times in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.services.users import people
from cadenza.web.actions import perform
from cadenza.web.deps import CurrentUser
from cadenza.web.errors import page_router
from cadenza.web.rendering import page
from cadenza.web.timeline import zone_choices
from cadenza.web.workspace import ZONE_COOKIE, user_zone

router = page_router()


@router.get("/profile")
def profile_page(request: Request, user: CurrentUser) -> Response:
    """Who is logged in, and the zone their pages use (theirs, or the browser's)."""
    context = {
        "chosen": user.timezone,
        "zones": zone_choices(user.timezone),
        "browser": request.cookies.get(ZONE_COOKIE, ""),
        "zone": user_zone(request),
    }
    return page(request, "profile.html", context)


@router.post("/profile")
def save_profile(
    request: Request, user: CurrentUser, timezone: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    """Keep the chosen zone (empty: follow the browser again)."""

    def change(session: Session, _now: datetime) -> str:
        saved = people.set_timezone(session=session, user_id=user.user_id, zone=timezone)
        if saved.timezone is None:
            return "Times now follow your browser's time zone."
        return f"Times are now shown in {saved.timezone}."

    return perform(request, "/profile", change, form=True)
