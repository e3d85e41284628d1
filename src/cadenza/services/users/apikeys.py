"""API keys: a secret shown once, stored as its sha256, looked up on every API request."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.users.people import get_user_by_email
from cadenza.store.models import ApiKey, User

PREFIX = "cz_"  # lets people (and secret scanners) recognise a Cadenza key
NAME_LIMIT = 200
# What a key may call: `api` (the REST API), `inbound` (the provider webhooks).
SCOPES = ("api", "inbound")


def digest(token: str) -> str:
    """What the table stores for a token: its sha256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(
    *,
    session: Session,
    name: str,
    user_email: str | None = None,
    now: datetime,
    scopes: Iterable[str] = ("api",),
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > NAME_LIMIT:
        raise ValidationFailed(f"an API key needs a name of 1 to {NAME_LIMIT} characters")
    granted = checked_scopes(scopes)
    user_id = None
    if user_email is not None:
        user = get_user_by_email(session=session, email=user_email)
        if user is None:
            raise NotFound(f"no user {user_email.strip()!r}")
        user_id = user.id
    token = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name, key_hash=digest(token), user_id=user_id, created_at=now, scopes=" ".join(granted)
    )
    session.add(key)
    session.flush()
    return key, token


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """Scopes in their canonical order, each known; at least one."""
    given = {scope.strip().lower() for scope in scopes}
    if unknown := sorted(given.difference(SCOPES)):
        raise ValidationFailed(
            f"unknown scope {unknown[0]!r}: a key's scopes are {', '.join(SCOPES)}"
        )
    if not given:
        raise ValidationFailed(f"an API key needs a scope: {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in given]


def scopes_of(key: ApiKey) -> list[str]:
    """What a key may call."""
    return (key.scopes or "").split()


def authenticate(*, session: Session, token: str, scope: str | None = "api") -> ApiKey | None:
    """The key a bearer token belongs to if it holds `scope` (None: any), else None.

    A hash look-up: nothing to time. A key made for webhooks alone (`inbound`) opens no route
    of the REST API, so a secret pasted into a provider's console cannot manage sequences.
    """
    if not token.startswith(PREFIX):
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(token)))
    if key is None or (scope is not None and scope not in scopes_of(key)):
        return None
    return key


def actor_of(*, session: Session, key: ApiKey) -> str:
    """Who history names for a key's requests: its user's email, else `api:NAME`."""
    if key.user_id is not None:
        email = session.scalar(select(User.email).where(User.id == key.user_id))
        if email:
            return email
    return f"api:{key.name}"


def revoke(*, session: Session, key_id: int) -> ApiKey:
    """Delete a key: requests bearing it are refused from now on."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    session.delete(key)
    session.flush()
    return key


def list_keys(*, session: Session) -> list[dict[str, Any]]:
    """Keys as rows (id, name, user, scopes, created_at); never the secret, never the hash."""
    query = (
        select(ApiKey, User.email).outerjoin(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
    )
    return [
        {
            "id": key.id,
            "name": key.name,
            "user": email,
            "scopes": scopes_of(key),
            "created_at": key.created_at.isoformat(),
        }
        for key, email in session.execute(query)
    ]
