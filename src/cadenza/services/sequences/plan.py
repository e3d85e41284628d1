"""Plan limits on sequences: how many active sequences a user may own (Freshsales' plans)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.core.access import plan_limit
from cadenza.errors import Conflict
from cadenza.settings import Settings, get_settings
from cadenza.store.models import Sequence, User


class PlanLimitReached(Conflict):
    """An action would take a user past a limit of their plan; nothing was changed."""

    title = "Plan limit reached"


def check_active_limit(
    session: Session, owner_id: int | None, settings: Settings | None, *, becoming: str
) -> None:
    """Refuse, with the reason, a sequence about to become active beyond its owner's limit."""
    if owner_id is None:
        return
    # The owner's row is locked so that two activations at once cannot both take the last one.
    owner = session.execute(
        select(User).where(User.id == owner_id).with_for_update()
    ).scalar_one_or_none()
    if owner is None:
        return
    limits = (settings or get_settings()).plan_active_sequences
    limit = plan_limit(owner.max_active_sequences, owner.role, limits)
    if limit is None:
        return
    active = session.execute(
        select(func.count())
        .select_from(Sequence)
        .where(Sequence.owner_id == owner.id, Sequence.status == "active")
    ).scalar_one()
    if active >= limit:
        raise PlanLimitReached(
            f"sequence {becoming!r} cannot become active: {owner.email} already owns {active} "
            f"active sequences, the limit of their plan ({limit}); pause or end one first"
        )
