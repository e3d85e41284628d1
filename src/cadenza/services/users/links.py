"""Invitations and password resets: single-use, expiring links sent by Cadenza's own email.

The link carries a random token; the table keeps only its SHA-256. Issuing a new link of a
purpose retires the user's earlier ones. The email goes through the outbox like every other
(the dispatcher sends it over SMTP), marked as Cadenza's own so that listings never show
its body: whoever reads the outbox must not be able to take over an account with it.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.channels.email import message_id_for
from cadenza.errors import CadenzaError, NotFound
from cadenza.services.outbox import MessageMeta
from cadenza.services.users import passwords
from cadenza.services.users.people import get_user_by_email
from cadenza.services.users.sessions import digest, end_sessions
from cadenza.settings import Settings
from cadenza.store.models import Message, User, UserToken

PURPOSES = ("invite", "reset")
# A burst of "forgot password" requests for one person sends one email, not a flood.
RESEND_AFTER = timedelta(minutes=1)


class LinkUnusable(CadenzaError):
    """A link that is unknown, already used or expired; the message says which."""

    status = 410
    title = "Link no longer valid"


@dataclass(frozen=True)
class IssuedLink:
    """A link that was queued: where it leads, until when, and to whom it went."""

    url: str
    expires_at: datetime
    email: str


def lifetime(purpose: str, settings: Settings) -> timedelta:
    """How long a link of this purpose stays usable."""
    if purpose == "invite":
        return timedelta(hours=settings.invite_link_hours)
    return timedelta(minutes=settings.reset_link_minutes)


def issue(
    *, session: Session, email: str, purpose: str, now: datetime, settings: Settings
) -> IssuedLink:
    """A new link for a user (their earlier ones of this purpose stop working), emailed."""
    user = get_user_by_email(session=session, email=email)
    if user is None:
        raise NotFound(f"no user {email.strip()!r} (add them with `cadenza users add`)")
    session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user.id,
            UserToken.purpose == purpose,
            UserToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    row = UserToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=digest(token),
        created_at=now,
        expires_at=now + lifetime(purpose, settings),
    )
    session.add(row)
    session.flush()
    url = f"{settings.base_url.rstrip('/')}/{purpose}/{token}"
    _queue_email(session, user, row, url, settings)
    return IssuedLink(url=url, expires_at=row.expires_at, email=user.email)


def issue_reset_quietly(*, session: Session, email: str, now: datetime, settings: Settings) -> None:
    """A reset link for an active user with this email, if any; the caller says the same anyway."""
    user = get_user_by_email(session=session, email=email) if email.strip() else None
    if user is None or not user.active:
        return
    recent = session.scalar(
        select(UserToken.id).where(
            UserToken.user_id == user.id,
            UserToken.purpose == "reset",
            UserToken.used_at.is_(None),
            UserToken.created_at > now - RESEND_AFTER,
        )
    )
    if recent is None:
        issue(session=session, email=user.email, purpose="reset", now=now, settings=settings)


def check(*, session: Session, token: str, purpose: str, now: datetime) -> User:
    """The user a usable link belongs to; LinkUnusable saying why it is not usable."""
    row = session.scalar(
        select(UserToken).where(UserToken.token_hash == digest(token), UserToken.purpose == purpose)
    )
    if row is None:
        raise LinkUnusable("This link is not valid: ask for a new one.")
    if row.used_at is not None:
        raise LinkUnusable("This link was already used (or a newer one replaced it).")
    if row.expires_at <= now:
        raise LinkUnusable("This link has expired: ask for a new one.")
    user = session.get(User, row.user_id)
    assert user is not None  # the token row is deleted with its user
    return user


def redeem(*, session: Session, token: str, purpose: str, password: str, now: datetime) -> User:
    """Set the password a usable link allows; the link is spent and other sessions end."""
    user = check(session=session, token=token, purpose=purpose, now=now)
    user.password_hash = passwords.hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    session.execute(
        update(UserToken).where(UserToken.token_hash == digest(token)).values(used_at=now)
    )
    end_sessions(session=session, user_id=user.id)
    session.flush()
    return user


SUBJECTS = {"invite": "You are invited to Cadenza", "reset": "Set a new Cadenza password"}
ACTIONS = {"invite": "Choose your password", "reset": "Set a new password"}
INTROS = {
    "invite": "You have been invited to Cadenza. Choose your password to sign in:",
    "reset": "Someone (hopefully you) asked to set a new password for Cadenza:",
}


def _queue_email(
    session: Session, user: User, row: UserToken, url: str, settings: Settings
) -> None:
    key = f"user-link:{row.id}"
    sender = settings.mail_from
    until = row.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    link = html.escape(url, quote=True)
    body = (
        f"<p>{html.escape(INTROS[row.purpose])}</p>"
        f'<p><a href="{link}">{ACTIONS[row.purpose]}</a></p>'
        f"<p>The link works once, until {until}. If you did not expect it, ignore this email.</p>"
    )
    meta = MessageMeta(system=True, message_id=message_id_for(key, sender))
    session.add(
        Message(
            key=key,
            channel="email",
            sender=sender,
            recipient=user.email,
            subject=SUBJECTS[row.purpose],
            body=body,
            meta=meta.stored(),
            status="queued",
            attempts=0,
            next_attempt_at=row.created_at,
            created_at=row.created_at,
        )
    )
    session.flush()
