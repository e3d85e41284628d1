"""A contact's company domains: where a colleague's reply comes from.

They are the domains of the contact's account, and the domain of the contact's own email
address unless it is a free-mail provider's (a reply from another gmail.com address is
nobody's colleague): the one place that says which domains are a contact's company.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cadenza.core.reach import email_domain
from cadenza.services.accounts.domains import FREE_MAIL, domains_for_contact
from cadenza.store.models import AccountDomain, Contact

__all__ = ["FREE_MAIL", "at_company", "company_domains", "is_free_mail"]


def is_free_mail(domain: str) -> bool:
    """Whether the domain is a free-mail provider's."""
    return domain.lower() in FREE_MAIL


def company_domains(*, session: Session, contact_id: int) -> list[str]:
    """The domains of the contact's company: its account's, and its own unless free mail."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        return []
    found = set(domains_for_contact(session=session, contact_id=contact_id))
    domain = email_domain(contact.email)
    if domain and not is_free_mail(domain):
        found.add(domain.lower())
    return sorted(found)


def at_company(domain: str) -> ColumnElement[bool]:
    """The contacts whose company has this domain (the inverse of `company_domains`)."""
    domain = domain.lower()
    own = func.lower(Contact.email).like(f"%@{_escaped(domain)}", escape="!")
    accounts = select(AccountDomain.account_id).where(AccountDomain.domain == domain)
    return or_(own, Contact.account_id.in_(accounts))


def _escaped(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
