"""Which contacts (or accounts) meet a condition: SQL narrows, the one evaluator decides.

The condition language has one meaning, `core.conditions.evaluate`. SQL only narrows the
candidates where it safely can (a tag is an indexed lookup; `all` narrows by any part that
does, `any` when all its parts do); every candidate is then evaluated as the worker would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from cadenza.core.conditions import evaluate
from cadenza.core.contact import ContactView
from cadenza.core.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    TagCondition,
)
from cadenza.core.definition.sequence import condition_reads_events
from cadenza.store.machine_reads import load_events, load_views
from cadenza.store.models import Account, AccountDomain, Contact, ContactTag, User

CHUNK = 5_000
EVER = datetime(1970, 1, 1, tzinfo=UTC)


def narrowing(condition: Condition) -> ColumnElement[bool] | None:
    """A SQL condition on contacts that every match meets (None: it cannot narrow)."""
    if isinstance(condition, TagCondition):
        tag = condition.tag.strip()
        if not tag.isascii():  # SQL's lower() and Python's casefold() agree on ASCII only
            return None
        tagged = select(ContactTag.contact_id).where(func.lower(ContactTag.tag) == tag.lower())
        exact = select(ContactTag.contact_id).where(ContactTag.tag == condition.tag)
        return or_(Contact.id.in_(exact), Contact.id.in_(tagged))
    if isinstance(condition, AllCondition):
        parts = [p for p in (narrowing(c) for c in condition.all) if p is not None]
        return and_(*parts) if parts else None
    if isinstance(condition, AnyCondition):
        any_parts = [narrowing(c) for c in condition.any]
        if any(p is None for p in any_parts):
            return None
        return or_(*[p for p in any_parts if p is not None])
    return None


def uses_events(condition: Condition) -> bool:
    """Whether evaluating the condition reads the contact's events."""
    return condition_reads_events(condition)


def candidates(condition: Condition | None, query: Select[Any] | None = None) -> Select[Any]:
    """Contact ids to evaluate, in id order: `query` (ids) narrowed by the condition."""
    base = query if query is not None else select(Contact.id)
    narrow = narrowing(condition) if condition is not None else None
    base = base.where(narrow) if narrow is not None else base
    return base.order_by(Contact.id)


def matches(
    *, session: Session, condition: Condition | None, ids: list[int], now: datetime
) -> list[int]:
    """Those of `ids` (distinct) whose contact meets the condition at `now`, in order."""
    if condition is None:
        return ids
    found: list[int] = []
    for start in range(0, len(ids), CHUNK):
        batch = ids[start : start + CHUNK]
        views = load_views(session=session, contact_ids=batch)
        events = (
            load_events(session=session, contact_ids=batch, since=EVER)
            if uses_events(condition)
            else {}
        )
        found.extend(
            i for i in batch if i in views and evaluate(condition, views[i], events.get(i, ()), now)
        )
    return found


def matching_contacts(
    *,
    session: Session,
    condition: Condition | None,
    now: datetime,
    query: Select[Any] | None = None,
) -> list[int]:
    """The ids of the contacts (of `query`, else all) that meet the condition."""
    ids = list(session.scalars(candidates(condition, query)))
    return matches(session=session, condition=condition, ids=ids, now=now)


def iter_matching(
    *, session: Session, condition: Condition, now: datetime, after: int = 0
) -> Iterator[int]:
    """Matching contact ids in id order after `after`, read a chunk at a time (for pages)."""
    while True:
        query = candidates(condition, select(Contact.id).where(Contact.id > after)).limit(CHUNK)
        ids = list(session.scalars(query))
        if not ids:
            return
        yield from matches(session=session, condition=condition, ids=ids, now=now)
        after = ids[-1]


def account_view(account: Account, domains: list[str], owner: str | None) -> ContactView:
    """An account as conditions see it: `name`, `domains`, `owner` and its own fields."""
    fields = {**(account.fields or {}), "name": account.name, "domains": domains}
    return ContactView(owner=owner, fields=fields)


def matching_accounts(*, session: Session, condition: Condition, now: datetime) -> list[int]:
    """The ids of the accounts that meet the condition, in name order."""
    accounts = list(session.scalars(select(Account).order_by(Account.name, Account.id)))
    domains: dict[int, list[str]] = {}
    for domain, account_id in session.execute(
        select(AccountDomain.domain, AccountDomain.account_id).order_by(AccountDomain.domain)
    ):
        domains.setdefault(account_id, []).append(domain)
    owners = dict(session.execute(select(User.id, User.email)).all())
    return [
        a.id
        for a in accounts
        if evaluate(
            condition,
            account_view(a, domains.get(a.id, []), owners.get(a.owner_id) if a.owner_id else None),
            (),
            now,
        )
    ]
