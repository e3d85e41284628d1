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
    timezone: str | None = None  # the zone they chose on their profile (None: the browser's)


@dataclass(frozen=True)
class Attempt:
    """A login's result: a session and its token, or nothing (and until when it is locked)."""

    signed_in: SignedIn | None = None
    token: str | None = None
    locked_until: datetime | None = None


def digest(token: str) -> str:
    """What the table stores for a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """Who an email names, as read before the password is checked (outside any write)."""

    user_id: int | None
    password_hash: str | None
    locked_until: datetime | None
    active: bool


def find_candidate(*, session: Session, email: str) -> Candidate:
    """The user an email names, or an empty candidate that no password matches."""
    user = get_user_by_email(session=session, email=email) if email.strip() else None
    if user is None:
        return Candidate(None, None, None, False)
    return Candidate(user.id, user.password_hash, user.locked_until, user.active)


def check_password(candidate: Candidate, password: str) -> bool:
    """True when the password is the candidate's; as slow for an unknown email as for a known.

    Called between two transactions: hashing takes tens of milliseconds, too long to hold
    the database's write lock for.
    """
    return passwords.verify(candidate.password_hash, password)


def record_attempt(
    *,
    session: Session,
    candidate: Candidate,
    good: bool,
    password: str,
    now: datetime,
    settings: Settings,
) -> Attempt:
    """A checked login's consequence: a failure counted (perhaps a lock), or a new session."""
    user = session.get(User, candidate.user_id) if candidate.user_id is not None else None
    if user is None:
        return Attempt()
    if user.locked_until is not None and user.locked_until > now:
        return Attempt(locked_until=user.locked_until)
    if not good or user.password_hash != candidate.password_hash:
        return Attempt(locked_until=_count_failure(session, user, now, settings))
    if not user.active:
        return Attempt()
    user.failed_logins, user.locked_until = 0, None
    if passwords.needs_rehash(candidate.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    token, signed_in = _open(session, user, now, settings)
    return Attempt(signed_in=signed_in, token=token)


def _count_failure(
    session: Session, user: User, now: datetime, settings: Settings
) -> datetime | None:
    """One more failure in a row; the last one allowed locks the account (and starts over).

    One UPDATE that counts and reads back: concurrent failures each get a count of their own.
    """
    count = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    if count < settings.login_max_failures:
        return None
    until = now + timedelta(minutes=settings.login_lock_minutes)
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=until)
    )
    return until


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
        timezone=user.timezone,
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
