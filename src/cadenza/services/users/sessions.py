"""Logins and web sessions: the cookie holds a random token, the table only its SHA-256.

A failed login counts against the account; enough in a row lock it for a while. A session
ends when it has been idle too long, when it reaches its absolute lifetime, at logout, when
its user is made inactive, or when the user's password is set again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from cadenza.services.users import passwords
from cadenza.services.users.people import get_user_by_email
from cadenza.settings import Settings
from cadenza.store.models import User, WebSession

# last_seen_at is written at most this often: a page view is a read, not a write.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request: who they are and their session's CSRF secret."""

    user_id: int
    email: str
    name: str
    role: str
    csrf: str
    session_id: str
    last_seen_at: datetime


@dataclass(frozen=True)
class Attempt:
    """A login's result: a session and its token, or nothing (and until when it is locked)."""

    signed_in: SignedIn | None = None
    token: str | None = None
    locked_until: datetime | None = None


def digest(token: str) -> str:
    """What the table stores for a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def attempt_login(
    *, session: Session, email: str, password: str, now: datetime, settings: Settings
) -> Attempt:
    """Check an email and password; count a failure, or open a session. Commit either way."""
    user = get_user_by_email(session=session, email=email) if email.strip() else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        return Attempt(locked_until=user.locked_until)
    good = passwords.verify(user.password_hash if user else None, password)
    if user is None:
        return Attempt()
    if not good:
        return Attempt(locked_until=_count_failure(user, now, settings))
    if not user.active:
        return Attempt()
    user.failed_logins, user.locked_until = 0, None
    assert user.password_hash is not None  # verify() is False without one
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    token, signed_in = _open(session, user, now, settings)
    return Attempt(signed_in=signed_in, token=token)


def _count_failure(user: User, now: datetime, settings: Settings) -> datetime | None:
    """One more failure in a row; the last one allowed locks the account (and starts over)."""
    user.failed_logins += 1
    if user.failed_logins < settings.login_max_failures:
        return None
    user.failed_logins = 0
    user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
    return user.locked_until


def _open(session: Session, user: User, now: datetime, settings: Settings) -> tuple[str, SignedIn]:
    idle = timedelta(minutes=settings.session_idle_minutes)
    # Housekeeping while here: this user's sessions that can no longer be used are removed.
    session.execute(
        delete(WebSession).where(
            WebSession.user_id == user.id,
            or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle),
        )
    )
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(token),
        user_id=user.id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )
    session.add(row)
    session.flush()
    return token, _signed_in(user, row)


def _signed_in(user: User, row: WebSession) -> SignedIn:
    return SignedIn(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        csrf=row.csrf,
        session_id=row.id,
        last_seen_at=row.last_seen_at,
    )


def resolve(*, session: Session, token: str, now: datetime, settings: Settings) -> SignedIn | None:
    """The signed-in person a session token stands for, or None when it is no live session."""
    query = (
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id == digest(token))
    )
    found = session.execute(query).first()
    if found is None:
        return None
    row, user = found
    idle = timedelta(minutes=settings.session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now or not user.active:
        return None
    return _signed_in(user, row)


def touch(*, session: Session, signed_in: SignedIn, now: datetime) -> bool:
    """Record activity (at most once a minute, so that idle time counts from the last page)."""
    if now - signed_in.last_seen_at < TOUCH_EVERY:
        return False
    session.execute(
        update(WebSession).where(WebSession.id == signed_in.session_id).values(last_seen_at=now)
    )
    return True


def logout(*, session: Session, token: str) -> None:
    """End the session this token stands for (nothing happens if it has already ended)."""
    session.execute(delete(WebSession).where(WebSession.id == digest(token)))


def end_sessions(*, session: Session, user_id: int) -> None:
    """End every session of a user: after a new password, or when they are made inactive."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
