"""Compliance at the last moment: may this message still go to this contact, and now?

The question is `core.last_check.check_again`, asked with what the decision to send used
(carried in the message) and the contact's flags as the database has them now. A message
whose enrollment exited or was removed after it was written does not go either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from cadenza.core import reach
from cadenza.core.last_check import SEND, Verdict, check_again
from cadenza.core.zones import is_timezone
from cadenza.services.outbox.meta import MessageMeta
from cadenza.settings import Settings
from cadenza.store.machine_reads import blocked_domains
from cadenza.store.models import Contact, Enrollment

ENDED = ("exited", "removed")


def last_moment_check(
    session: Session, rows: Sequence[RowMapping], now: datetime, settings: Settings
) -> dict[int, Verdict]:
    """A verdict per claimed message, from the contact's flags and enrollment as they are now."""
    details = {row["id"]: MessageMeta.read(row["meta"]) for row in rows}
    contact_ids = {
        r["contact_id"]
        for r in rows
        if r["contact_id"] is not None and not (details[r["id"]].notify or details[r["id"]].help)
    }
    enrollment_ids = {r["enrollment_id"] for r in rows if r["enrollment_id"] is not None}
    contacts: dict[int, _Flags] = {}
    if contact_ids:
        query = select(
            Contact.id,
            Contact.dnc,
            Contact.sms_opted_out,
            Contact.email_unsubscribed,
            Contact.email_bounced,
            Contact.timezone,
            Contact.email,
        ).where(Contact.id.in_(contact_ids))
        blocked = blocked_domains(session)
        contacts = {
            c.id: _Flags(c, reach.domain_blocked(c.email, blocked))
            for c in session.execute(query).all()
        }
    ended: dict[int, tuple[str | None, datetime]] = {}
    if enrollment_ids:
        query_ended = select(Enrollment.id, Enrollment.exit_reason, Enrollment.updated_at).where(
            Enrollment.id.in_(enrollment_ids), Enrollment.status.in_(ENDED)
        )
        ended = {row[0]: (row[1], row[2]) for row in session.execute(query_ended)}
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        contact = contacts.get(row["contact_id"])
        check = _check(row, details[row["id"]], contact, settings) if contact else None
        if check is None or contact is None:
            verdicts[row["id"]] = SEND
            continue
        verdict = check_again(check, contact, now)
        end = ended.get(row["enrollment_id"])
        # Ended after the message was written (a reply, a removal): it must not go. Ended by
        # the very decision that wrote it (its next step could never run): it goes.
        if verdict.kind != "suppress" and end is not None and end[1] > row["created_at"]:
            verdict = Verdict("suppress", f"enrollment ended: {end[0] or 'removed'}")
        verdicts[row["id"]] = verdict
    return verdicts


class _Flags:
    """A contact's flags as they are now, the do-not-contact domains' verdict included."""

    __slots__ = ("dnc", "domain_dnc", "email_bounced", "email_unsubscribed", "sms_opted_out",
                 "timezone")  # fmt: skip

    def __init__(self, row: Any, domain_dnc: bool) -> None:
        self.dnc, self.sms_opted_out = row.dnc, row.sms_opted_out
        self.email_unsubscribed, self.email_bounced = row.email_unsubscribed, row.email_bounced
        self.timezone: str | None = row.timezone
        self.domain_dnc = domain_dnc


def _check(
    row: RowMapping, details: MessageMeta, contact: _Flags, settings: Settings
) -> reach.SendCheck | None:
    """What the decision to send this message used; None for what reaches no contact."""
    if details.notify or details.help:
        return None
    if details.check is not None:
        return details.check.as_send_check()
    if not reach.of(row["channel"]).sent:
        return None
    # Written before messages carried their check: the settings' quiet hours, in the
    # contact's zone or else the settings' fallback zone.
    quiet = settings.quiet_hours
    zone = contact.timezone if contact.timezone and is_timezone(contact.timezone) else None
    return reach.SendCheck(
        row["channel"],
        zone or settings.fallback_timezone,
        f"{quiet.start:%H:%M}",
        f"{quiet.end:%H:%M}",
    )
