"""What page handlers ask for: the person logged in, as one dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cadenza.errors import Forbidden
from cadenza.services.users.access import Viewer, viewer_of
from cadenza.services.users.sessions import SignedIn
from cadenza.store.models import User


def current_user(request: Request) -> SignedIn:
    """The person behind this request (every page but the public ones has one)."""
    user: SignedIn | None = getattr(request.state, "user", None)
    if user is None:  # a public page asking for a user: a defect, refused all the same
        raise Forbidden("log in first")
    return user


CurrentUser = Annotated[SignedIn, Depends(current_user)]


def page_viewer(request: Request, user: CurrentUser) -> Viewer:
    """What the person logged in may see and do: every page hands it to the services."""
    with request.app.state.sessions() as session:
        found = session.get(User, user.user_id)
        if found is None or not found.active:
            raise Forbidden("log in first")
        return viewer_of(session=session, user=found, settings=request.app.state.settings)


PageViewer = Annotated[Viewer, Depends(page_viewer)]
