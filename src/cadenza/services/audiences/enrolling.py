"""Enrolling an account's contacts, or a view's, through the one enrollment service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.services import enrollments
from cadenza.services.accounts.managing import contact_ids_of, get_account
from cadenza.services.audiences.evaluating import rule_of
from cadenza.services.audiences.matching import matches, matching_accounts, matching_contacts
from cadenza.services.audiences.views import condition_of, view_for
from cadenza.services.enrollments import EnrollReport
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings
from cadenza.store.catalog import definition_for, latest_version
from cadenza.store.models import Contact


def enroll_account(
    *,
    session: Session,
    viewer: Viewer,
    sequence: str,
    account: str | int,
    now: datetime,
    settings: Settings,
) -> EnrollReport:
    """Enroll the account's contacts that meet the sequence's audience (all of them when it
    has none); the others are refused with that reason."""
    seq = access.sequence_for(session=session, viewer=viewer, name=sequence, privilege="enroll")
    found = get_account(session=session, account=account)
    ids = contact_ids_of(session=session, account_id=found.id)
    definition = definition_for(session=session, version_id=latest_version(session, seq).id)
    rule = rule_of(session=session, definition=definition)
    chosen = (
        ids
        if rule is None
        else matches(session=session, condition=rule.condition, ids=ids, now=now)
    )
    report = enrollments.enroll(
        session=session, sequence=seq.name, contact_ids=chosen, now=now, settings=settings,
        initiator_id=viewer.user_id, actor=viewer.actor,
    )  # fmt: skip
    if rule is not None:
        left_out = sorted(set(ids) - set(chosen))
        report.refused += [(i, f"not in the sequence's audience ({rule.words})") for i in left_out]
    return report


def enroll_view(
    *,
    session: Session,
    viewer: Viewer,
    sequence: str,
    view: str,
    now: datetime,
    settings: Settings,
) -> EnrollReport:
    """Enroll the contacts a view shows (for a view of accounts: their contacts)."""
    access.sequence_for(session=session, viewer=viewer, name=sequence, privilege="enroll")
    found = view_for(session=session, viewer=viewer, name=view)
    condition = condition_of(found)
    if found.kind == "accounts":
        accounts = matching_accounts(session=session, condition=condition, now=now)
        query = select(Contact.id).where(Contact.account_id.in_(accounts)).order_by(Contact.id)
        ids = list(session.scalars(query))
    else:
        ids = matching_contacts(session=session, condition=condition, now=now)
    return enrollments.enroll_audience(
        session=session, sequence=sequence, contact_ids=ids, now=now, settings=settings,
        initiator_id=viewer.user_id, actor=viewer.actor, viewer=viewer,
    )  # fmt: skip
