"""A contact's company domains: where a colleague's reply comes from.

Today these are the domain of the contact's own email address, unless it is a free-mail
provider's (a reply from another gmail.com address is nobody's colleague). Once contacts
belong to accounts, the account's domains join them here: the one place that says which
domains are a contact's company.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session

from cadenza.core.reach import email_domain
from cadenza.store.models import Contact

# Mailbox providers anyone can sign up with: no company is known by these domains.
FREE_MAIL = frozenset(
    {
        "aol.com", "att.net", "comcast.net", "fastmail.com", "gmail.com", "gmx.com", "gmx.de",
        "gmx.net", "googlemail.com", "hey.com", "hotmail.co.uk", "hotmail.com", "hotmail.fr",
        "icloud.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com", "msn.com",
        "outlook.com", "pm.me", "proton.me", "protonmail.com", "qq.com", "rocketmail.com",
        "sbcglobal.net", "t-online.de", "tutanota.com", "verizon.net", "web.de", "yahoo.co.uk",
        "yahoo.com", "yahoo.fr", "yandex.com", "yandex.ru", "ymail.com", "zoho.com",
    }
)  # fmt: skip


def is_free_mail(domain: str) -> bool:
    """Whether the domain is a free-mail provider's."""
    return domain.lower() in FREE_MAIL


def company_domains(*, session: Session, contact_id: int) -> list[str]:
    """The domains of the contact's company (none for a free-mail address)."""
    contact = session.get(Contact, contact_id)
    domain = email_domain(contact.email) if contact is not None else None
    return [domain] if domain and not is_free_mail(domain) else []


def at_company(domain: str) -> ColumnElement[bool]:
    """The contacts whose company has this domain (the inverse of `company_domains`)."""
    return func.lower(Contact.email).like(f"%@{_escaped(domain.lower())}", escape="!")


def _escaped(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
