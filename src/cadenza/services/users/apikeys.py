"""API keys: a secret shown once, stored as its sha256, looked up on every API request."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.users.people import get_user_by_email
from cadenza.store.models import ApiKey, GroupMember, User

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


@dataclass(frozen=True)
class Bearer:
    """What a request needs of the key it bears: the key's name and its user, if any."""

    key_name: str
    user_id: int | None = None  # None: a key of no user (or of a user no longer there)
    email: str = ""
    role: str = ""
    active: bool = False
    groupmates: frozenset[int] = frozenset()  # users sharing a group with them, themselves too


def _bearer_statement() -> Any:
    keys, people = ApiKey.__table__, User.__table__
    mine, mates = GroupMember.__table__.alias("mine"), GroupMember.__table__.alias("mates")
    joined = (
        keys.outerjoin(people, people.c.id == keys.c.user_id)
        .outerjoin(mine, mine.c.user_id == people.c.id)
        .outerjoin(mates, mates.c.group_id == mine.c.group_id)
    )
    columns = (people.c.id, people.c.email, people.c.role, people.c.active, mates.c.user_id)
    return (
        select(keys.c.name, keys.c.scopes, *columns)
        .select_from(joined)
        .where(keys.c.key_hash == bindparam("key_hash"))
    )


# Built once: every API request runs it, and building and caching a statement per request
# cost more than running it.
_BEARER = _bearer_statement()


def bearer(*, connection: Connection, token: str, scope: str = "api") -> Bearer | None:
    """The key a bearer token belongs to with its user and their groupmates, in one query;
    None when the token is no key holding `scope` (as `authenticate`)."""
    if not token.startswith(PREFIX):
        return None
    found = connection.execute(_BEARER, {"key_hash": digest(token)}).all()
    if not found or scope not in (found[0].scopes or "").split():
        return None
    name, _, user_id, email, role, active = found[0][:6]
    if user_id is None:
        return Bearer(name)
    mates = frozenset(row[6] for row in found if row[6] is not None)
    return Bearer(name, user_id, email, role, bool(active), mates | {user_id})


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
