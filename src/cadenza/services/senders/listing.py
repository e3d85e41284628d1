"""Senders as listings page through them: by kind and address, with their users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.services import paging
from cadenza.services.senders.managing import health_figures, sender_row
from cadenza.settings import Settings
from cadenza.store.models import Sender, SenderUser, User

ORDER = paging.Order((Sender.kind, Sender.address), (str, str))


def page_senders(
    *,
    session: Session,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> paging.Page[dict[str, Any]]:
    """A page of senders with their caps, users and (given `now`) health, the next cursor
    and the total."""
    page = paging.fetch(session, select(Sender), ORDER, limit=limit, cursor=cursor)
    senders: list[Sender] = [row[0] for row in page.rows]
    assigned: dict[int, list[str]] = {}
    query = (
        select(SenderUser.sender_id, User.email)
        .join(User, User.id == SenderUser.user_id)
        .where(SenderUser.sender_id.in_([s.id for s in senders]))
        .order_by(User.email)
    )
    for sender_id, email in session.execute(query):
        assigned.setdefault(sender_id, []).append(email)
    rows = [
        sender_row(s, assigned.get(s.id, []), health_figures(session, s, now, settings))
        if now
        else sender_row(s, assigned.get(s.id, []))
        for s in senders
    ]
    return paging.Page(rows, page.next, page.total)
