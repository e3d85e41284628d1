"""API keys: a secret shown once, stored as its sha256, looked up on every API request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.users.people import get_user_by_email
from cadenza.store.models import ApiKey, User

PREFIX = "cz_"  # lets people (and secret scanners) recognise a Cadenza key
NAME_LIMIT = 200


def digest(token: str) -> str:
    """What the table stores for a token: its sha256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(
    *, session: Session, name: str, user_email: str | None = None, now: datetime
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > NAME_LIMIT:
        raise ValidationFailed(f"an API key needs a name of 1 to {NAME_LIMIT} characters")
    user_id = None
    if user_email is not None:
        user = get_user_by_email(session=session, email=user_email)
        if user is None:
            raise NotFound(f"no user {user_email.strip()!r}")
        user_id = user.id
    token = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, key_hash=digest(token), user_id=user_id, created_at=now)
    session.add(key)
    session.flush()
    return key, token


def authenticate(*, session: Session, token: str) -> ApiKey | None:
    """The key a bearer token belongs to, or None (a hash look-up: nothing to time)."""
    if not token.startswith(PREFIX):
        return None
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(token)))


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
    """Keys as rows (id, name, user, created_at); never the secret, never the hash."""
    query = (
        select(ApiKey, User.email).outerjoin(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
    )
    return [
        {
            "id": key.id,
            "name": key.name,
            "user": email,
            "created_at": key.created_at.isoformat(),
        }
        for key, email in session.execute(query)
    ]
