"""Changing who shares a sequence: its sharing mode and access, and its team members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core.access import SHARING_ACCESS, SHARING_MODES
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services import history
from cadenza.services.sequences.applying import replace_team
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import Sequence, User


def change_sharing(
    *,
    session: Session,
    name: str,
    now: datetime,
    mode: str | None = None,
    level: str | None = None,
    team: list[str] | None = None,
    viewer: Viewer = OPERATOR,
) -> Sequence:
    """Set a sequence's sharing mode, its access and (given) its team; history says who."""
    if mode is not None and mode not in SHARING_MODES:
        raise ValidationFailed(f"sharing {mode!r} is not one of {', '.join(SHARING_MODES)}")
    if level is not None and level not in SHARING_ACCESS:
        raise ValidationFailed(f"access {level!r} is not one of {', '.join(SHARING_ACCESS)}")
    seq = access.sequence_for(
        session=session, viewer=viewer, name=name, privilege="edit sequences", lock=True
    )
    members = _users(session, team) if team is not None else None
    seq.sharing = mode or seq.sharing
    seq.sharing_access = level or seq.sharing_access
    if members is not None:
        replace_team(session, seq.id, set(members.values()))
    seq.updated_at = now
    data: dict[str, Any] = {"sharing": seq.sharing, "access": seq.sharing_access}
    if members is not None:
        data["team"] = sorted(members)
    history.record(
        session,
        history.Subject(None, seq.id),
        "sequence_shared",
        now,
        reason=f"sharing {seq.sharing} ({seq.sharing_access}) set by {viewer.actor}",
        actor=viewer.actor,
        **data,
    )
    session.flush()
    return seq


def _users(session: Session, emails: list[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(email.strip().lower() for email in emails))
    found = dict(session.execute(select(User.email, User.id).where(User.email.in_(wanted))).all())
    missing = [email for email in wanted if email not in found]
    if missing:
        raise NotFound(f"team: no user {', '.join(missing)}")
    return found
