"""A reply from the contact's company: it exits the colleagues whose sequence says so.

A sequence with `exit.company_replies: true` treats a reply from anyone at a contact's
company (`domains.company_domains`) as the contact's own: their enrollment exits. Only the
enrollments pinned to a version with the option are read, so a database whose sequences
never use it pays nothing for it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.core import machine
from cadenza.core.decisions import LIVE_OR_PAUSED
from cadenza.core.reach import email_domain
from cadenza.services.enrollments import many
from cadenza.services.inbound.domains import at_company, is_free_mail
from cadenza.store.catalog import definition_for
from cadenza.store.models import Contact, Enrollment, Sequence, SequenceVersion

RUNNING = ("active", "paused")  # sequences whose enrollments may still exit


def exit_colleagues(
    *, session: Session, sender: str, skip: int | None, now: datetime, actor: str
) -> list[int]:
    """Exit the enrollments (with the option on) of contacts at the sender's company, but
    `skip` (whose own reply it is); the contacts whose enrollments exited."""
    domain = email_domain(sender)
    if domain is None or is_free_mail(domain):
        return []
    versions = _versions_with_option(session)
    if not versions:
        return []
    query = (
        select(Enrollment.id, Enrollment.sequence_id, Enrollment.contact_id)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .where(
            Enrollment.version_id.in_(versions),
            Enrollment.status.in_(LIVE_OR_PAUSED),
            at_company(domain),
            Contact.email != sender.lower(),
        )
    )
    by_sequence: dict[int, list[int]] = defaultdict(list)
    for enrollment_id, sequence_id, contact_id in session.execute(query):
        if contact_id != skip:
            by_sequence[sequence_id].append(enrollment_id)
    reason = f"a colleague at {domain} replied ({sender})"
    exited: list[int] = []
    for sequence_id, ids in sorted(by_sequence.items()):
        sequence = session.get(Sequence, sequence_id)
        assert sequence is not None
        changed = many.transition_all(
            session,
            sequence,
            lambda sit, state: machine.exit(sit, state, reason=reason),
            where=[Enrollment.id.in_(ids)],
            now=now,
            actor=actor,
        )
        exited.extend(c.contact_id for c in changed)
    return exited


def _versions_with_option(session: Session) -> list[int]:
    """The versions, of sequences still running, whose exit rules take company replies."""
    query = (
        select(SequenceVersion.id)
        .join(Sequence, Sequence.id == SequenceVersion.sequence_id)
        .where(Sequence.status.in_(RUNNING))
    )
    return [
        version_id
        for version_id in session.scalars(query)
        if definition_for(session=session, version_id=version_id).exit.company_replies
    ]
