"""Who is asking: the session cookie checked on every page, CSRF tokens checked on every change.

A page needs a live session unless its router is public (login, forgotten password, the
links of invitations and resets, static files). Every POST carries a CSRF token in its
form: the session's own secret once logged in; before that, a random token that the form
and a cookie both hold (what another site can neither read nor set).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cadenza.errors import Forbidden
from cadenza.services.users import sessions
from cadenza.services.users.sessions import SignedIn
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.web.rendering import redirect

SESSION_COOKIE = "cadenza_session"
FORM_COOKIE = "cadenza_form"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STALE_FORM = (
    "This form is out of date or did not come from this site, so nothing was changed: "
    "reload the page and try again."
)


async def admit(request: Request, *, public: bool) -> Response | None:
    """Let a request through (None), or answer it: anonymous visitors go to the login page."""
    request.state.user = None
    if public:
        token = request.cookies.get(FORM_COOKIE)
        request.state.new_form_token = token is None
        request.state.csrf = token or secrets.token_urlsafe(32)
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, token)
        return None
    user = await run_in_threadpool(_signed_in, request)
    if user is None:
        return _anonymous(request)
    request.state.user = user
    request.state.csrf = user.csrf
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, user.csrf)
    return None


def finish(request: Request, response: Response) -> Response:
    """Hand a public page's new form token to the browser along with the page (pages only)."""
    html = response.headers.get("content-type", "").startswith("text/html")
    if html and getattr(request.state, "new_form_token", False):
        set_cookie(request, response, FORM_COOKIE, request.state.csrf)
    return response


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    """A cookie that is HttpOnly, SameSite=Lax, and Secure when the site is served over https."""
    settings: Settings = request.app.state.settings
    secure = settings.base_url.lower().startswith("https://")
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


def _signed_in(request: Request) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    state = request.app.state
    now = state.clock.now()
    with state.sessions() as session:
        user = sessions.resolve(session=session, token=token, now=now, settings=state.settings)
    if user is not None and now - user.last_seen_at >= sessions.TOUCH_EVERY:
        with writing(state.sessions) as session:
            sessions.touch(session=session, signed_in=user, now=now)
    return user


def _anonymous(request: Request) -> Response:
    """A page to log in for (and back to), or a refusal for anything that would change data."""
    if request.method not in SAFE_METHODS:
        raise Forbidden("log in first: nothing was changed")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = "/login" + (f"?{urlencode({'next': target})}" if target != "/" else "")
    if request.cookies.get(SESSION_COOKIE):
        response = redirect(login, "Your session has ended: log in again.", kind="error")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return redirect(login, "")


async def _check_csrf(request: Request, expected: str | None) -> None:
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden(STALE_FORM)
