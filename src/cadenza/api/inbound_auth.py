"""Who may post to the inbound webhooks: a key with the inbound scope, or the inbound secret.

Mail and SMS providers can put HTTP Basic credentials in a webhook URL
(`https://inbound:SECRET@host/api/v1/inbound/email`) but rarely a header, so both forms are
taken. Without credentials the answer is 401 with both challenges, and nothing is read.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session, sessionmaker

from cadenza.errors import Forbidden
from cadenza.services import users
from cadenza.settings import Settings

USER = "inbound"
SCOPE = "inbound"
REALM = "Cadenza inbound"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8", Bearer realm="{REALM}"'


class _Basic(HTTPBasic):
    """HTTP Basic whose unreadable credentials get the same 401 as missing ones."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        try:
            return await super().__call__(request)
        except HTTPException:
            raise _unauthorized(
                "the Basic credentials cannot be read: base64 of inbound:SECRET"
            ) from None


_basic = _Basic(
    auto_error=False,
    scheme_name="InboundSecret",
    description="User `inbound`, password CADENZA_INBOUND_SECRET (in the webhook URL)",
)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="InboundKey",
    description="An API key with the inbound scope: `cadenza apikeys create NAME --scope inbound`",
)


def inbound_credentials(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Security(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    """Who posts (`inbound` or the key's actor): 401 without credentials, 403 without the scope."""
    settings: Settings = request.app.state.settings
    if bearer is not None:
        return _by_key(request, bearer.credentials)
    if basic is not None:
        return _by_secret(settings, basic)
    raise _unauthorized(f"an inbound webhook needs credentials: {_ways(settings)}")


def _by_key(request: Request, token: str) -> str:
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        key = users.authenticate(session=session, token=token, scope=None)
        if key is None:
            raise _unauthorized("the API key is not valid (revoked, mistyped or not a key)")
        if SCOPE not in users.scopes_of(key):
            raise Forbidden(
                f"API key {key.name!r} lacks the inbound scope: create one for webhooks with "
                "`cadenza apikeys create NAME --scope inbound`"
            )
        return users.actor_of(session=session, key=key)


def _by_secret(settings: Settings, basic: HTTPBasicCredentials) -> str:
    secret = settings.inbound_secret or ""
    if not secret:
        raise _unauthorized(f"HTTP Basic is not accepted: {_ways(settings)}")
    given = f"{basic.username}:{basic.password}".encode()
    # Both parts in one constant-time comparison of equal-length digests: no timing tells
    # which part was wrong, nor how long the secret is.
    expected = f"{USER}:{secret}".encode()
    if not hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest()):
        raise _unauthorized("the Basic credentials are not inbound:<CADENZA_INBOUND_SECRET>")
    return USER


def _ways(settings: Settings) -> str:
    if settings.inbound_secret:
        return (
            "HTTP Basic inbound:<CADENZA_INBOUND_SECRET> (e.g. in the webhook URL) "
            "or an API key with the inbound scope (Authorization: Bearer)"
        )
    return (
        "an API key with the inbound scope (Authorization: Bearer); HTTP Basic is not "
        "accepted because CADENZA_INBOUND_SECRET is not set"
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": CHALLENGE})
