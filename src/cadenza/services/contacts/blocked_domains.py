"""The domain-level do-not-contact list: nobody at a blocked domain is reached.

The rule itself is `core.reach` (`domain_blocked`, read by the step-time and the send-time
checks alike); this module keeps the list: add, page and remove domains (admins and managers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import history, paging
from cadenza.services.paging import Order, Page
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import BlockedDomain

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_ORDER = Order((BlockedDomain.domain,), (str,))
REASON_LIMIT = 500


@dataclass(frozen=True)
class BlockedRow:
    domain: str
    reason: str
    created_by: str
    created_at: datetime

    def as_json(self) -> dict[str, str]:
        return {
            "domain": self.domain,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


def clean_domain(domain: str) -> str:
    """A domain as the list keeps it (lowercased, no `@`, no trailing dot), or refused."""
    text = domain.strip().lower().removeprefix("@").rstrip(".")
    if not _DOMAIN.match(text):
        raise ValidationFailed(f"{domain.strip()!r} is not a domain (e.g. example.com)")
    return text


def block_domain(
    *, session: Session, domain: str, reason: str = "", now: datetime, viewer: Viewer = OPERATOR
) -> BlockedRow:
    """Put a domain on the do-not-contact list; Conflict when it is there already."""
    access.require(viewer, "manage blocked domains")
    name = clean_domain(domain)
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed(f"a reason has at most {REASON_LIMIT} characters")
    if session.get(BlockedDomain, name) is not None:
        raise Conflict(f"{name} is on the do-not-contact list already")
    row = BlockedDomain(domain=name, reason=reason.strip(), created_by=viewer.actor, created_at=now)
    session.add(row)
    session.flush()
    history.record(
        session, history.Subject(None), "domain_blocked", now,
        reason=f"{name} blocked by {viewer.actor}", actor=viewer.actor, domain=name,
    )  # fmt: skip
    return BlockedRow(row.domain, row.reason, row.created_by, row.created_at)


def unblock_domain(
    *, session: Session, domain: str, now: datetime, viewer: Viewer = OPERATOR
) -> None:
    """Take a domain off the do-not-contact list; NotFound when it is not on it."""
    access.require(viewer, "manage blocked domains")
    name = domain.strip().lower().removeprefix("@").rstrip(".")
    gone = session.execute(delete(BlockedDomain).where(BlockedDomain.domain == name))
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"{name} is not on the do-not-contact list")
    history.record(
        session, history.Subject(None), "domain_unblocked", now,
        reason=f"{name} unblocked by {viewer.actor}", actor=viewer.actor, domain=name,
    )  # fmt: skip


def page_blocked(
    *, session: Session, limit: int, cursor: str | None = None, viewer: Viewer = OPERATOR
) -> Page[BlockedRow]:
    """A page of blocked domains, alphabetically."""
    access.require(viewer, "manage blocked domains")
    query = select(
        BlockedDomain.domain, BlockedDomain.reason, BlockedDomain.created_by,
        BlockedDomain.created_at,
    )  # fmt: skip
    page = paging.fetch(session, query, _ORDER, limit=limit, cursor=cursor)
    return paging.mapped(page, lambda r: BlockedRow(r[0], r[1], r[2], r[3]))
