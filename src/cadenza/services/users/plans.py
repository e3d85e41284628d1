"""A user's own plan limits (they replace their role's, from the settings)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cadenza.core.access import plan_limit
from cadenza.errors import NotFound, ValidationFailed
from cadenza.services.users.people import get_user_by_email
from cadenza.settings import Settings

LIMITS = ("max_active_sequences", "max_emails_per_day")


def set_plan_limits(
    *, session: Session, email: str, limits: dict[str, int | None], settings: Settings
) -> dict[str, Any]:
    """Set (a number of 1 or more) or drop (None: the role's applies) a user's own limits."""
    user = get_user_by_email(session=session, email=email)
    if user is None:
        raise NotFound(f"no user {email.strip()}")
    for name, value in limits.items():
        if name not in LIMITS:
            raise ValidationFailed(f"no plan limit {name} (limits: {', '.join(LIMITS)})")
        if value is not None and value < 1:
            raise ValidationFailed(f"{name} must be 1 or more, not {value}")
        setattr(user, name, value)
    session.flush()
    return plan_limits(user=user, settings=settings)


def plan_limits(*, user: Any, settings: Settings) -> dict[str, Any]:
    """A user's limits as they apply: their own, else their role's (None: no limit)."""
    return {
        "email": user.email,
        "role": user.role,
        "max_active_sequences": plan_limit(
            user.max_active_sequences, user.role, settings.plan_active_sequences
        ),
        "max_emails_per_day": plan_limit(
            user.max_emails_per_day, user.role, settings.plan_emails_per_day
        ),
        "own": {name: getattr(user, name) for name in LIMITS},
    }
