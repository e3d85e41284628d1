"""Email domains of accounts: cleaning them, free-mail ones, and a contact's company domains."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cadenza.store.models import AccountDomain, Contact

# Mailboxes anyone can have: a contact at one of these tells nothing of their company.
FREE_MAIL = frozenset(
    {
        "126.com", "163.com", "aol.com", "att.net", "comcast.net", "fastmail.com", "free.fr",
        "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com", "hey.com",
        "hotmail.co.uk", "hotmail.com", "hotmail.fr", "icloud.com", "laposte.net", "libero.it",
        "live.com", "mac.com", "mail.com", "mail.ru", "me.com", "msn.com", "orange.fr",
        "outlook.com", "pm.me", "proton.me", "protonmail.com", "qq.com", "rocketmail.com",
        "sbcglobal.net", "t-online.de", "tutanota.com", "verizon.net", "web.de", "yahoo.co.uk",
        "yahoo.com", "yahoo.fr", "yandex.com", "yandex.ru", "ymail.com", "zoho.com",
    }
)  # fmt: skip
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def clean_domain(text: str) -> str:
    """A domain as stored: lowercase, no scheme, `www.` or trailing dot; ValueError if bad."""
    domain = text.strip().lower().removeprefix("http://").removeprefix("https://")
    domain = domain.split("/", 1)[0].removeprefix("www.").rstrip(".").lstrip("@")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{text.strip()!r} is not a domain (like example.com)")
    if domain in FREE_MAIL:
        raise ValueError(f"{domain} is a free-mail domain: it cannot name a company")
    return domain


def domain_of(email: str | None) -> str | None:
    """The domain of an address, unless it is free mail (which never matches an account)."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return None if not domain or domain in FREE_MAIL else domain


def domains_for_contact(*, session: Session, contact_id: int) -> list[str]:
    """The domains of the contact's account (its company), sorted; [] without an account."""
    query = (
        select(AccountDomain.domain)
        .join(Contact, Contact.account_id == AccountDomain.account_id)
        .where(Contact.id == contact_id)
        .order_by(AccountDomain.domain)
    )
    return list(session.scalars(query))


def account_by_domain(*, session: Session, domains: Iterable[str]) -> dict[str, int]:
    """The account of each of these domains that belongs to one."""
    found: dict[str, int] = {}
    for batch in _slices(sorted(set(domains))):
        query = select(AccountDomain.domain, AccountDomain.account_id).where(
            AccountDomain.domain.in_(batch)
        )
        found.update(dict(session.execute(query).all()))
    return found


def match_by_domain(*, session: Session, emails: Iterable[str | None], now: datetime) -> int:
    """Put the contacts with these emails that have no account into the account of their
    email's domain; how many joined one. Free-mail addresses never match."""
    by_domain: dict[str, list[str]] = defaultdict(list)
    for email in emails:
        domain = domain_of(email)
        if domain is not None and email is not None:
            by_domain[domain].append(email)
    accounts = account_by_domain(session=session, domains=by_domain)
    joined = 0
    for domain, account_id in accounts.items():
        for batch in _slices(by_domain[domain]):
            statement = (
                update(Contact)
                .where(Contact.email.in_(batch), Contact.account_id.is_(None))
                .values(account_id=account_id, updated_at=now)
            )
            joined += session.execute(statement).rowcount  # type: ignore[attr-defined]
    return joined


def _slices(values: list[str], size: int = 5_000) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
