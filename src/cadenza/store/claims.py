"""Claims: due enrollments for the worker, due messages for the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from cadenza.store.models import LIVE_STATUSES, Contact, Enrollment, Message, User

CLAIM_COLUMNS = (
    Enrollment.id,
    Enrollment.sequence_id,
    Enrollment.version_id,
    Enrollment.contact_id,
    Enrollment.status,
    Enrollment.step,
    Enrollment.due_at,
    Enrollment.enrolled_at,
    Enrollment.last_step_at,
    Enrollment.outcome,
    Enrollment.exit_reason,
    Enrollment.initiator_id,
    Enrollment.state,
)


# What the machine reads of a contact (ContactView's fields); the owner is the user's email.
CONTACT_VIEW_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.phone,
    Contact.timezone,
    Contact.company,
    Contact.lead_source,
    Contact.disposition,
    Contact.fields,
    Contact.dnc,
    Contact.sms_opted_out,
    Contact.email_unsubscribed,
    Contact.email_bounced,
    User.email.label("owner"),
)
CONTACT_PREFIX = "contact__"

# Spelled out literally, as in the index's own WHERE clause: a planner can use a partial index
# only when the query's condition visibly implies the index's, which a bound list does not.
LIVE_ROWS = text("enrollments.status IN (" + ", ".join(f"'{s}'" for s in LIVE_STATUSES) + ")")


def claim_due(session: Session, now: datetime, limit: int) -> Sequence[RowMapping]:
    """Claim up to `limit` due enrollments.

    PostgreSQL: one `FOR UPDATE SKIP LOCKED` statement, so any number of workers share the
    work without waiting on each other. SQLite: the caller's BEGIN IMMEDIATE already made
    this the only writer. Either way the rows stay claimed until the transaction ends, and
    the partial index on live `due_at` keeps the cost proportional to what is due.
    """
    contact = [c.label(CONTACT_PREFIX + c.key) for c in CONTACT_VIEW_COLUMNS]
    query = (
        select(*CLAIM_COLUMNS, *contact)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .outerjoin(User, User.id == Contact.owner_id)
        .where(LIVE_ROWS, Enrollment.due_at <= now)
        .order_by(Enrollment.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # The contact comes along in the same round trip; only the enrollment is locked.
        query = query.with_for_update(skip_locked=True, of=Enrollment)
    return session.execute(query).mappings().all()


MESSAGE_COLUMNS = tuple(Message.__table__.c)


def claim_messages(
    session: Session, now: datetime, limit: int, lease_until: datetime, *, resend_expired: bool
) -> Sequence[RowMapping]:
    """Lease up to `limit` messages that are due: queued ones, and ones whose lease expired.

    An expired lease means a dispatcher died while sending: the message is taken again (and
    resent with the same key) or, when `resend_expired` is off, set `held` for a person.
    """
    queued = (Message.status == "queued") & (Message.next_attempt_at <= now)
    expired = (Message.status == "sending") & (Message.lease_until < now)
    query = (
        select(Message.id, Message.status)
        .where(queued | expired)
        .order_by(Message.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found: list[tuple[int, str]] = [(i, status) for i, status in session.execute(query)]
    if not resend_expired:
        stale = [i for i, status in found if status == "sending"]
        if stale:
            session.execute(
                update(Message)
                .where(Message.id.in_(stale))
                .values(
                    status="held",
                    lease_until=None,
                    error="the dispatcher stopped while sending: held for a person to check",
                )
            )
        found = [(i, s) for i, s in found if s == "queued"]
    ids = [i for i, _status in found]
    if not ids:
        return []
    session.execute(
        update(Message)
        .where(Message.id.in_(ids))
        .values(status="sending", lease_until=lease_until, attempts=Message.attempts + 1)
    )
    return (
        session.execute(select(*MESSAGE_COLUMNS).where(Message.id.in_(ids)).order_by(Message.id))
        .mappings()
        .all()
    )
