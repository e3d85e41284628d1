"""A page's change: one write transaction, then 303 back with what happened or why not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.store.db import writing
from cadenza.web.rendering import redirect

Change = Callable[[Session, datetime], str]


def users_typed(change: Change) -> Change:
    """A change whose unknown users were typed into the form: the form's mistake (a flash),
    not a missing page."""

    def typed(session: Session, now: datetime) -> str:
        try:
            return change(session, now)
        except NotFound as exc:
            if str(exc).startswith("no user"):
                raise ValidationFailed(str(exc)) from None
            raise

    return typed


def perform(
    request: Request, back: str, change: Change, *, form: bool = False, done: str | None = None
) -> Response:
    """Run `change` at the app clock's now; a conflict (already done, wrong state) is a flash
    on the page it came from, and changes nothing. `form`: a value typed into the form that
    is wrong is a flash too (a button's wrong value is a page of its own). `done`: where to
    go once it worked (else back)."""
    now = request.app.state.clock.now()
    flashed = (Conflict, ValidationFailed) if form else (Conflict,)
    try:
        with writing(request.app.state.sessions) as session:
            message = change(session, now)
    except flashed as exc:
        return redirect(back, str(exc), kind="error")
    return redirect(done or back, message)
