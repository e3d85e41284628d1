"""People, groups and API keys as listings page through them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.services import paging
from cadenza.services.users.apikeys import scopes_of
from cadenza.services.users.people import group_members
from cadenza.store.models import ApiKey, Group, User

USERS = paging.Order((User.email,), (str,))
GROUPS = paging.Order((Group.name,), (str,))
KEYS = paging.Order((ApiKey.id,), (int,))


def page_users(
    *, session: Session, limit: int = paging.DEFAULT_LIMIT, cursor: str | None = None
) -> paging.Page[dict[str, Any]]:
    """A page of users by email, with the next cursor and the total."""
    page = paging.fetch(session, select(User), USERS, limit=limit, cursor=cursor)
    return paging.mapped(page, lambda row: _user(row[0]))


def _user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "phone": user.phone,
        "active": user.active,
        "can_log_in": user.password_hash is not None,
        "created_at": user.created_at,
    }


def page_groups(
    *, session: Session, limit: int = paging.DEFAULT_LIMIT, cursor: str | None = None
) -> paging.Page[dict[str, Any]]:
    """A page of groups by name with their members in turn order."""
    page = paging.fetch(session, select(Group), GROUPS, limit=limit, cursor=cursor)
    rows = [
        {
            "id": group.id,
            "name": group.name,
            "members": [u.email for u in group_members(session=session, group_id=group.id)],
        }
        for group, *_ in page.rows
    ]
    return paging.Page(rows, page.next, page.total)


def page_keys(
    *, session: Session, limit: int = paging.DEFAULT_LIMIT, cursor: str | None = None
) -> paging.Page[dict[str, Any]]:
    """A page of API keys (id, name, user, scopes, created_at); never a secret or a hash."""
    query = select(ApiKey, User.email).outerjoin(User, User.id == ApiKey.user_id)
    page = paging.fetch(session, query, KEYS, limit=limit, cursor=cursor)
    return paging.mapped(
        page,
        lambda row: {
            "id": row[0].id,
            "name": row[0].name,
            "user": row[1],
            "scopes": scopes_of(row[0]),
            "created_at": row[0].created_at.isoformat(),
        },
    )
