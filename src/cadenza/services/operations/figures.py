"""The figures read from the database at each scrape: cheap, index-backed queries only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.store.claims import LIVE_ROWS
from cadenza.store.models import Enrollment, Message

# Outbox statuses still to be settled (the status index covers them; sent ones are not read).
PENDING = ("queued", "sending", "held")
REASON_LENGTH = 80  # a hold's reason is a sentence: its start names the cause


@dataclass(frozen=True)
class Figures:
    """The backlog of due steps and of messages, as an operator's dashboard shows them."""

    due: int
    oldest_due_seconds: float
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status)
    holds: dict[str, int] = field(default_factory=dict)  # by reason


def read_figures(*, session: Session, now: datetime) -> Figures:
    """Due backlog and lateness (the partial due index), outbox and holds (the status index)."""
    due = select(Enrollment.due_at).where(LIVE_ROWS, Enrollment.due_at <= now)
    count = session.execute(select(func.count()).select_from(due.subquery())).scalar_one()
    oldest = session.execute(
        select(Enrollment.due_at)
        .where(LIVE_ROWS, Enrollment.due_at <= now)
        .order_by(Enrollment.due_at)
        .limit(1)
    ).scalar_one_or_none()
    outbox = session.execute(
        select(Message.channel, Message.status, func.count())
        .where(Message.status.in_(PENDING))
        .group_by(Message.channel, Message.status)
    ).all()
    reason = func.coalesce(func.substr(Message.error, 1, REASON_LENGTH), "")
    holds = session.execute(
        select(reason, func.count()).where(Message.status == "held").group_by(reason)
    ).all()
    return Figures(
        due=count,
        oldest_due_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        outbox={(channel, status): n for channel, status, n in outbox},
        holds={text or "unknown": n for text, n in holds},
    )
