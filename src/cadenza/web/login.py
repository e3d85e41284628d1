"""Logging in and out, a forgotten password, and the links of invitations and resets."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from cadenza.errors import ValidationFailed
from cadenza.services.users import links, sessions
from cadenza.store.db import writing
from cadenza.web.auth import SESSION_COOKIE, set_cookie
from cadenza.web.deps import CurrentUser
from cadenza.web.errors import page_router
from cadenza.web.rendering import local_path, page, redirect

public = page_router(public=True)
router = page_router()
WRONG = "That email and password do not match an account that may log in."
TITLES = {"invite": "Choose your password", "reset": "Set a new password"}


@public.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """The login form (and where it leads afterwards: a page of this site only)."""
    return page(request, "login.html", {"next": local_path(next), "email": ""})


@public.post("/login")
def log_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; open a session and go where the person was headed."""
    state = request.app.state
    now = state.clock.now()
    with state.sessions() as session:
        candidate = sessions.find_candidate(session=session, email=email)
    good = sessions.check_password(candidate, password)
    with writing(state.sessions) as session:
        attempt = sessions.record_attempt(
            session=session,
            candidate=candidate,
            good=good,
            password=password,
            now=now,
            settings=state.settings,
        )
    if attempt.token is None:
        error = _locked(attempt.locked_until, now) if attempt.locked_until else WRONG
        context = {"next": local_path(next), "email": email, "error": error}
        return page(request, "login.html", context, status=401)
    response = redirect(local_path(next), "")
    max_age = state.settings.session_max_hours * 3600
    set_cookie(request, response, SESSION_COOKIE, attempt.token, max_age=max_age)
    return response


def _locked(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return (
        "This account is locked after too many failed logins: try again in "
        f"{minutes} minute{'' if minutes == 1 else 's'} (at {until:%H:%M} UTC), "
        "or set a new password with a link from “Forgot your password?”."
    )


@router.get("/logout")
def logout_page(request: Request, user: CurrentUser) -> Response:
    """A page with the logout button (logging out is a POST, like every change)."""
    return page(request, "logout.html", {})


@router.post("/logout")
def log_out(request: Request, user: CurrentUser) -> Response:
    """End this browser's session."""
    with writing(request.app.state.sessions) as session:
        sessions.logout(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/login", f"{user.email} is logged out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@public.get("/forgot")
def forgot_page(request: Request) -> Response:
    """Ask for a link to set a new password."""
    return page(request, "forgot.html", {"sent": False})


@public.post("/forgot")
def forgot(request: Request, email: Annotated[str, Form()] = "") -> Response:
    """Email a reset link if the address is an active user's; the answer is the same anyway."""
    state = request.app.state
    with writing(state.sessions) as session:
        links.issue_reset_quietly(
            session=session, email=email, now=state.clock.now(), settings=state.settings
        )
    minutes = state.settings.reset_link_minutes
    return page(request, "forgot.html", {"sent": True, "minutes": minutes})


@public.get("/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    """The form to choose a password, if the invitation is still valid."""
    return _link_page(request, "invite", token)


@public.post("/invite/{token}")
def accept_invite(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Set the password the invitation allows; then log in with it."""
    return _use_link(request, "invite", token, password, confirm)


@public.get("/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    """The form to set a new password, if the reset link is still valid."""
    return _link_page(request, "reset", token)


@public.post("/reset/{token}")
def reset_password(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Set the new password the link allows; then log in with it."""
    return _use_link(request, "reset", token, password, confirm)


def _link_page(request: Request, purpose: str, token: str, error: str = "") -> Response:
    state = request.app.state
    with state.sessions() as session:
        user = links.check(session=session, token=token, purpose=purpose, now=state.clock.now())
        context = {"title": TITLES[purpose], "email": user.email, "error": error}
    return page(request, "set_password.html", context, status=422 if error else 200)


def _use_link(request: Request, purpose: str, token: str, password: str, confirm: str) -> Response:
    state = request.app.state
    if password != confirm:
        return _link_page(request, purpose, token, "The two passwords differ.")
    try:
        with writing(state.sessions) as session:
            user = links.redeem(
                session=session,
                token=token,
                purpose=purpose,
                password=password,
                now=state.clock.now(),
            )
            email = user.email
    except ValidationFailed as exc:
        return _link_page(request, purpose, token, str(exc).capitalize() + ".")
    return redirect("/login", f"The password of {email} is set: log in with it.")
