"""Compliance at the last moment: may this message still go to this contact, and now?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from cadenza.core import calendar
from cadenza.core.definition import Schedule
from cadenza.settings import Settings
from cadenza.store.models import Contact, Enrollment

REACHING = {"email", "sms", "mms", "voicemail"}
ENDED = {"exited", "removed"}


@dataclass(frozen=True)
class Verdict:
    """Send now, suppress for good (with the reason), or defer until a time (with the reason)."""

    kind: Literal["send", "suppress", "defer"]
    reason: str = ""
    until: datetime | None = None


SEND = Verdict("send")


def last_moment_check(
    session: Session, rows: Sequence[RowMapping], now: datetime, settings: Settings
) -> dict[int, Verdict]:
    """A verdict per claimed message, from the contact's flags and enrollment as they are now."""
    contact_ids = {r["contact_id"] for r in rows if r["contact_id"] is not None}
    enrollment_ids = {r["enrollment_id"] for r in rows if r["enrollment_id"] is not None}
    contacts = (
        {
            c.id: c
            for c in session.execute(
                select(
                    Contact.id,
                    Contact.dnc,
                    Contact.sms_opted_out,
                    Contact.email_unsubscribed,
                    Contact.email_bounced,
                    Contact.timezone,
                ).where(Contact.id.in_(contact_ids))
            )
        }
        if contact_ids
        else {}
    )
    ended: dict[int, str | None] = {}
    if enrollment_ids:
        query = select(Enrollment.id, Enrollment.exit_reason).where(
            Enrollment.id.in_(enrollment_ids), Enrollment.status.in_(ENDED)
        )
        ended = dict(session.execute(query).all())
    every_hour = Schedule(
        timezone=settings.fallback_timezone,
        days="every_day",
        holidays="none",
        fallback_timezone=settings.fallback_timezone,
    )
    quiet = settings.quiet_hours
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        contact = contacts.get(row["contact_id"])
        if row["channel"] not in REACHING or (row["meta"] or {}).get("notify") or contact is None:
            verdicts[row["id"]] = SEND
            continue
        verdicts[row["id"]] = (
            _flags(row["channel"], contact)
            or _ended(row["enrollment_id"], ended)
            or _quiet(row["channel"], contact.timezone, now, every_hour, quiet)
            or SEND
        )
    return verdicts


def _flags(channel: str, contact: Any) -> Verdict | None:
    if contact.dnc:
        return Verdict("suppress", "contact is do-not-contact")
    if channel == "email" and contact.email_unsubscribed:
        return Verdict("suppress", "contact unsubscribed from email")
    if channel == "email" and contact.email_bounced:
        return Verdict("suppress", "contact's email bounced")
    if channel != "email" and contact.sms_opted_out:
        return Verdict("suppress", "contact opted out of SMS")
    return None


def _ended(enrollment_id: int | None, ended: dict[int, str | None]) -> Verdict | None:
    if enrollment_id in ended:
        return Verdict("suppress", f"enrollment ended: {ended[enrollment_id] or 'removed'}")
    return None


def _quiet(
    channel: str, zone: str | None, now: datetime, policy: Schedule, quiet: calendar.QuietHours
) -> Verdict | None:
    if channel not in calendar.QUIET_CHANNELS:
        return None
    allowed, reasons = calendar.next_allowed(now, policy, channel, zone, quiet=quiet)
    if allowed > now:
        return Verdict("defer", "; ".join(reasons) or "quiet hours", allowed)
    return None
