"""What page handlers ask for: the person logged in, as one dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cadenza.errors import Forbidden
from cadenza.services.users.sessions import SignedIn


def current_user(request: Request) -> SignedIn:
    """The person behind this request (every page but the public ones has one)."""
    user: SignedIn | None = getattr(request.state, "user", None)
    if user is None:  # a public page asking for a user: a defect, refused all the same
        raise Forbidden("log in first")
    return user


CurrentUser = Annotated[SignedIn, Depends(current_user)]
