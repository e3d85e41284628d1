"""Accounts (companies): their domains, owner, fields and contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.accounts.domains import FREE_MAIL as FREE_MAIL
    from cadenza.services.accounts.domains import domain_of as domain_of
    from cadenza.services.accounts.domains import domains_for_contact as domains_for_contact
    from cadenza.services.accounts.domains import match_by_domain as match_by_domain
    from cadenza.services.accounts.managing import AccountRow as AccountRow
    from cadenza.services.accounts.managing import account_row as account_row
    from cadenza.services.accounts.managing import company_owners as company_owners
    from cadenza.services.accounts.managing import contact_ids_of as contact_ids_of
    from cadenza.services.accounts.managing import create_account as create_account
    from cadenza.services.accounts.managing import delete_account as delete_account
    from cadenza.services.accounts.managing import get_account as get_account
    from cadenza.services.accounts.managing import page_accounts as page_accounts
    from cadenza.services.accounts.managing import set_contact_account as set_contact_account
    from cadenza.services.accounts.managing import update_account as update_account
else:
    __getattr__, __dir__ = exports(__name__)
