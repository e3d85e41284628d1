"""Accounts (companies): create, read, update, delete, page; their contacts and owner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.limits import MAX_ID
from cadenza.services import paging
from cadenza.services.accounts.domains import clean_domain
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.store.models import Account, AccountDomain, Contact, User

ORDER = paging.Order((Account.name, Account.id), (str, int))
NAME_LIMIT = 200


@dataclass
class AccountRow:
    """An account as listings and pages show it."""

    id: int
    name: str
    domains: list[str]
    owner: str | None  # the owner's email
    fields: dict[str, Any] = field(default_factory=dict)
    contacts: int = 0


def get_account(*, session: Session, account: str | int) -> Account:
    """An account by id (a number) or by name (any case), or NotFound."""
    text = str(account).strip()
    found = session.get(Account, int(text)) if _an_id(text) else None
    if found is None:
        query = select(Account).where(func.lower(Account.name) == text.lower())
        found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no account {text!r}")
    return found


def account_row(*, session: Session, account: str | int) -> AccountRow:
    """One account with its domains, owner and number of contacts."""
    return _rows(session, [get_account(session=session, account=account)])[0]


def page_accounts(
    *,
    session: Session,
    search: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> paging.Page[AccountRow]:
    """A page of accounts by name, optionally those whose name or a domain contains `search`."""
    query = select(Account)
    if search:
        pattern = f"%{search.strip().lower()}%"
        in_domains = select(AccountDomain.account_id).where(AccountDomain.domain.like(pattern))
        query = query.where(or_(func.lower(Account.name).like(pattern), Account.id.in_(in_domains)))
    page = paging.fetch(session, query, ORDER, limit=limit, cursor=cursor)
    return paging.Page(_rows(session, [row[0] for row in page.rows]), page.next, page.total)


def create_account(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    domains: Iterable[str] = (),
    owner: str | None = None,
    fields: Mapping[str, Any] | None = None,
    now: datetime,
) -> Account:
    """A new account; Conflict when its name or one of its domains is taken."""
    access.require(viewer, "edit contacts")
    cleaned = _checked_domains(session, None, domains)
    account = Account(
        name=_name(name),
        owner_id=_owner_id(session, owner),
        fields=_fields(fields),
        created_at=now,
        updated_at=now,
    )
    if session.scalar(select(Account.id).where(func.lower(Account.name) == account.name.lower())):
        raise Conflict(f"an account named {account.name!r} exists already")
    session.add(account)
    _flush(session, account.name)
    _set_domains(session, account.id, cleaned)
    return account


def update_account(
    *,
    session: Session,
    viewer: Viewer,
    account: str | int,
    name: str | None = None,
    domains: Iterable[str] | None = None,
    owner: str | None = None,
    fields: Mapping[str, Any] | None = None,
    now: datetime,
) -> Account:
    """Change what is given (`owner=""` removes the owner); the rest stays."""
    access.require(viewer, "edit contacts")
    found = get_account(session=session, account=account)
    cleaned = None if domains is None else _checked_domains(session, found.id, domains)
    owner_id = _owner_id(session, owner) if owner is not None and owner.strip() else None
    if name is not None and _name(name).lower() != found.name.lower():
        taken = select(Account.id).where(func.lower(Account.name) == _name(name).lower())
        if session.scalar(taken):
            raise Conflict(f"an account named {_name(name)!r} exists already")
    if name is not None:
        found.name = _name(name)
    if owner is not None:
        found.owner_id = owner_id
    if fields is not None:
        found.fields = {**(found.fields or {}), **_fields(fields)}
    if cleaned is not None:
        _set_domains(session, found.id, cleaned)
    found.updated_at = now
    _flush(session, found.name)
    return found


def delete_account(*, session: Session, viewer: Viewer, account: str | int, now: datetime) -> str:
    """Delete an account (its contacts stay, without an account); its name."""
    access.require(viewer, "delete contacts")
    found = get_account(session=session, account=account)
    session.execute(
        update(Contact)
        .where(Contact.account_id == found.id)
        .values(account_id=None, updated_at=now)
    )
    session.execute(delete(AccountDomain).where(AccountDomain.account_id == found.id))
    session.delete(found)
    session.flush()
    return found.name


def set_contact_account(
    *, session: Session, viewer: Viewer, contact_id: int, account: str | int | None, now: datetime
) -> None:
    """Put a contact in an account (None: in none)."""
    access.require(viewer, "edit contacts")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    found = None if account is None else get_account(session=session, account=account)
    contact.account_id = None if found is None else found.id
    contact.updated_at = now
    session.flush()


def contact_ids_of(*, session: Session, account_id: int) -> list[int]:
    """The ids of an account's contacts, in id order."""
    query = select(Contact.id).where(Contact.account_id == account_id).order_by(Contact.id)
    return list(session.scalars(query))


def company_owners(*, session: Session, contact_ids: Iterable[int]) -> dict[int, int]:
    """The owner (a user id) of each contact's account, for contacts whose account has one."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    query = (
        select(Contact.id, Account.owner_id)
        .join(Account, Account.id == Contact.account_id)
        .where(Contact.id.in_(ids), Account.owner_id.is_not(None))
    )
    return {cid: owner for cid, owner in session.execute(query) if owner is not None}


def _checked_domains(session: Session, account_id: int | None, domains: Iterable[str]) -> list[str]:
    """The domains cleaned; ValidationFailed for a bad one, Conflict for another's."""
    try:
        cleaned = sorted({clean_domain(d) for d in domains if d.strip()})
    except ValueError as exc:
        raise ValidationFailed(f"domains: {exc}") from None
    query = (
        select(AccountDomain.domain, Account.name)
        .join(Account, Account.id == AccountDomain.account_id)
        .where(AccountDomain.domain.in_(cleaned))
    )
    if account_id is not None:
        query = query.where(AccountDomain.account_id != account_id)
    taken = session.execute(query).first()
    if taken is not None:
        raise Conflict(f"domain {taken[0]} belongs to account {taken[1]!r} already")
    return cleaned


def _set_domains(session: Session, account_id: int, domains: list[str]) -> None:
    session.execute(delete(AccountDomain).where(AccountDomain.account_id == account_id))
    session.add_all(AccountDomain(domain=d, account_id=account_id) for d in domains)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a domain was taken by another account meanwhile; try again") from None


def _flush(session: Session, name: str) -> None:
    """Write; a name taken meanwhile (or differing only in a case SQL does not fold) is 409."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"an account named {name!r} exists already") from None


def _name(text: str) -> str:
    name = text.strip()
    if not name:
        raise ValidationFailed("name: an account needs a name")
    if len(name) > NAME_LIMIT:
        raise ValidationFailed(f"name: longer than {NAME_LIMIT} characters")
    return name


def _owner_id(session: Session, email: str | None) -> int | None:
    if email is None or not email.strip():
        return None
    user_id = session.scalar(select(User.id).where(User.email == email.strip().lower()))
    if user_id is None:
        raise ValidationFailed(f"owner: no user {email.strip()}")
    return user_id


def _fields(values: Mapping[str, Any] | None) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
        raise ValidationFailed("fields: must be an object of named values")
    return dict(values)


def _rows(session: Session, accounts: list[Account]) -> list[AccountRow]:
    ids = [a.id for a in accounts]
    domains: dict[int, list[str]] = {i: [] for i in ids}
    for domain, account_id in session.execute(
        select(AccountDomain.domain, AccountDomain.account_id)
        .where(AccountDomain.account_id.in_(ids))
        .order_by(AccountDomain.domain)
    ):
        domains[account_id].append(domain)
    counts = dict(
        session.execute(
            select(Contact.account_id, func.count())
            .where(Contact.account_id.in_(ids))
            .group_by(Contact.account_id)
        ).all()
    )
    owners = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_({a.owner_id for a in accounts}))
        ).all()
    )
    return [
        AccountRow(
            a.id, a.name, domains[a.id], owners.get(a.owner_id) if a.owner_id else None,
            dict(a.fields or {}), counts.get(a.id, 0),
        )
        for a in accounts
    ]  # fmt: skip


def _an_id(text: str) -> bool:
    """Whether a name given is an id: ASCII digits within what the databases hold."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID
