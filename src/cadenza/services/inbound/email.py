"""Inbound email: replies, bounces, complaints, auto-replies and unsubscribes move sequences.

The parsing is the channel's (`classify_email`); this module decides whom an email is about
and records the event that moves the contact's enrollments. A hard bounce flags the contact
bounced; a soft one (a full mailbox, greylisting, a policy block) is history only, with its
reason; a spam complaint unsubscribes the contact and names the mailbox the message went
from (sender complaint rates count these); an auto-reply pauses, never counts as a reply.
Mail to a sequence's intake address is a lead (`inbound_leads`). Nothing inbound is ever an
error: what cannot be matched is kept in history as `inbound_unmatched`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time
from email.utils import parseaddr

from sqlalchemy.orm import Session, sessionmaker

from cadenza.channels.errors import InvalidToken
from cadenza.channels.inbound_email import InboundEmail, classify_email
from cadenza.channels.tracking import read_unsubscribe_token
from cadenza.clock import Clock
from cadenza.core import calendar, zones
from cadenza.services.inbound.company import exit_colleagues
from cadenza.services.inbound.leads import handle_lead, intake_address
from cadenza.services.inbound.matching import (
    ACTOR,
    InboundResult,
    apply_event,
    clean_text,
    cleaned,
    contact_by_email,
    excerpt,
    forwarded_message,
    record_history,
    record_unmatched,
    sent_email,
    thread_message,
)
from cadenza.services.inbound.tracking import unsubscribe_contact, unsubscribe_target
from cadenza.settings import Settings
from cadenza.store.db import writing
from cadenza.store.models import Contact, Message

log = logging.getLogger(__name__)

# Out-of-office replies resume the sequence at this local time on the stated return day.
RETURN_TIME = time(9, 0)

Handler = Callable[[Session, InboundEmail, datetime, Settings], InboundResult]


def handle_email(
    *, session: Session, raw: bytes, recipients: list[str], now: datetime, settings: Settings
) -> InboundResult:
    """What one inbound email means for a contact and their sequences, applied."""
    # NULs are cleaned here, once for every way mail arrives (API, SMTP intake): raw ones
    # before parsing, encoded ones (=00, base64, RFC 2047) from what the parser decoded.
    raw = raw.replace(b"\x00", b"")
    recipients = [clean_text(recipient) for recipient in recipients]
    mail = _classify(raw)
    addresses = recipients or (mail.to_addresses if isinstance(mail, InboundEmail) else [])
    lead_to = intake_address(addresses, settings)
    if lead_to is not None:
        return handle_lead(session=session, raw=raw, address=lead_to, now=now, settings=settings)
    if isinstance(mail, str):
        return record_unmatched(session, now, "email", mail)
    return _HANDLERS[mail.kind](session, mail, now, settings)


def _classify(raw: bytes) -> InboundEmail | str:
    """The classified email, or why it cannot be read."""
    try:
        return cleaned(classify_email(raw))
    except Exception as exc:  # the stdlib's header parser crashes on some malformed headers
        return clean_text(f"unreadable email: {type(exc).__name__}: {exc}")


def intake_callback(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings
) -> Callable[[bytes, list[str]], None]:
    """The SMTP intake server's callback: each message handled in its own transaction."""

    def on_message(raw: bytes, recipients: list[str]) -> None:
        with writing(sessions) as session:
            result = handle_email(
                session=session, raw=raw, recipients=recipients, now=clock.now(), settings=settings
            )
        log.info("inbound email to %s: %s", ", ".join(recipients), result.describe())

    return on_message


def _reply(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    """A reply counts for the contact of the email it answers (by its thread, or by the
    original a forward quotes), whoever writes it; else for the contact who sends it."""
    sent, matched_by = thread_message(session, mail.thread_ids()), "thread"
    if sent is None and mail.forwarded is not None:
        sent, matched_by = forwarded_message(session, mail.forwarded), "forwarded"
    contact_id = sent.contact_id if sent is not None else None
    if contact_id is None:
        contact = contact_by_email(session, mail.from_address)
        contact_id = contact.id if contact is not None else None
        # Emails written before their Message-ID had a column of its own: by the sender.
        sent = sent_email(session, contact_id, mail.thread_ids()) if contact_id else None
        matched_by = "thread" if sent is not None else "sender"
    colleagues = exit_colleagues(
        session=session, sender=mail.from_address, skip=contact_id, now=now, actor=ACTOR
    )
    if contact_id is None:
        if colleagues:
            why = f"reply from {mail.from_address}: exited colleagues at its company"
            return InboundResult("company_reply", detail=why)
        return _unknown_sender(session, mail, now, "reply")
    own = contact_by_email(session, mail.from_address)
    return apply_event(
        session,
        contact_id,
        "replied",
        now,
        settings,
        sent,
        channel="email",
        email_subject=mail.subject,
        text=excerpt(mail.text),
        matched_by=matched_by,
        # Someone else answered for the contact (a colleague in the thread, a forward).
        replied_by=mail.from_address if own is None or own.id != contact_id else None,
    )


def _bounce(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    contact = contact_by_email(session, mail.bounced_recipient)
    sent = sent_email(session, contact.id, mail.thread_ids()) if contact is not None else None
    details = {
        "recipient": mail.bounced_recipient,
        "status": mail.status,
        "diagnostic": excerpt(mail.diagnostic, 300) or None,
        "cause": mail.bounce_reason,
    }
    if mail.bounce_kind == "soft":
        # A full mailbox, greylisting, a block aimed at the sender: the address may work
        # later, so the contact stays mailable and the enrollment goes on.
        contact_id = contact.id if contact is not None else None
        why = f"soft bounce: {mail.bounce_reason or 'temporary failure'}"
        record_history(session, "soft_bounce", now, contact_id, sent, why, **details)
        key = sent.key if sent is not None else None
        return InboundResult("soft_bounce", contact_id=contact_id, message_key=key)
    if contact is None:
        who = mail.bounced_recipient or "an unnamed recipient"
        return record_unmatched(
            session, now, "email", f"hard bounce for {who}: no contact has this address", **details
        )
    return apply_event(session, contact.id, "bounced", now, settings, sent, **details)


def _auto_reply(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    contact = contact_by_email(session, mail.from_address)
    if contact is None:
        return _unknown_sender(session, mail, now, "auto-reply")
    sent = sent_email(session, contact.id, mail.thread_ids())
    until = return_date = None
    if mail.return_date is not None:
        until = return_instant(mail.return_date, contact, settings).isoformat()
        return_date = mail.return_date.isoformat()
    # The event pauses the enrollment until `until` (7 days when absent); it exits only
    # where the sequence's exit.on lists out_of_office.
    return apply_event(
        session,
        contact.id,
        "out_of_office",
        now,
        settings,
        sent,
        until=until,
        return_date=return_date,
        email_subject=mail.subject,
        text=excerpt(mail.text),
    )


def return_instant(day: date, contact: Contact, settings: Settings) -> datetime:
    """09:00 on the return day in the contact's zone (the fallback zone when unknown)."""
    for name in (contact.timezone, settings.fallback_timezone, "UTC"):
        if name:
            try:
                return calendar.local_instant(day, RETURN_TIME, zones.zone(name))
            except KeyError:
                continue
    raise AssertionError("UTC is always a zone")


def _unsubscribe(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    # The List-Unsubscribe mailto carries a token; without a valid one the sender asks
    # for themselves, which is as good a proof as the address the email came from.
    contact_id, message = None, None
    if mail.unsubscribe_token:
        try:
            target = read_unsubscribe_token(mail.unsubscribe_token, settings.secret_key)
            contact_id, message = unsubscribe_target(session, target)
        except InvalidToken:
            pass
    if contact_id is None:
        sender = contact_by_email(session, mail.from_address)
        contact_id = sender.id if sender is not None else None
        if contact_id is not None:
            message = sent_email(session, contact_id, mail.thread_ids())
    if contact_id is None:
        return _unknown_sender(session, mail, now, "unsubscribe request")
    return unsubscribe_contact(session, contact_id, message, now, settings, via="email")


def _complaint(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    # The token in the original's List-Unsubscribe names the contact even when the
    # feedback loop hides the address; else the complaining address does.
    contact_id, sent = None, None
    if mail.unsubscribe_token:
        try:
            target = read_unsubscribe_token(mail.unsubscribe_token, settings.secret_key)
            contact_id, sent = unsubscribe_target(session, target)
        except InvalidToken:
            pass
    if contact_id is None:
        contact = contact_by_email(session, mail.bounced_recipient)
        contact_id = contact.id if contact is not None else None
    sender = _complained_sender(sent, mail)
    if contact_id is None:
        who = mail.bounced_recipient or "an unnamed recipient"
        return record_unmatched(
            session, now, "email", f"spam complaint by {who}: no contact has this address",
            sender=sender, recipient=mail.bounced_recipient,
        )  # fmt: skip
    if sent is None:
        sent = sent_email(session, contact_id, mail.thread_ids())
        sender = _complained_sender(sent, mail)
    return apply_event(
        session,
        contact_id,
        "complained",
        now,
        settings,
        sent,
        sender=sender,
        recipient=mail.bounced_recipient,
        reported_by=mail.from_address or None,
    )


def _complained_sender(sent: Message | None, mail: InboundEmail) -> str | None:
    """The mailbox the complained-about email went from: ours when we know it."""
    if sent is not None and sent.sender:
        return parseaddr(sent.sender)[1].lower() or mail.complaint_sender
    return mail.complaint_sender


def _notice(
    session: Session, mail: InboundEmail, now: datetime, settings: Settings
) -> InboundResult:
    reason = "delivery or read receipt: nothing to do"
    record_history(session, "inbound_ignored", now, None, None, reason, sender=mail.from_address)
    return InboundResult("ignored", detail=reason)


def _unknown_sender(
    session: Session, mail: InboundEmail, now: datetime, what: str
) -> InboundResult:
    unreadable = any(r.startswith("unreadable header") for r in mail.reasons)
    sender = mail.from_address or ("an unreadable sender" if unreadable else "an unknown sender")
    return record_unmatched(
        session,
        now,
        "email",
        f"{what} from {sender}: no contact has this address",
        sender=mail.from_address or None,
        email_subject=mail.subject or None,
        in_reply_to=mail.in_reply_to,
    )


_HANDLERS: dict[str, Handler] = {
    "reply": _reply,
    "bounce": _bounce,
    "auto_reply": _auto_reply,
    "complaint": _complaint,
    "unsubscribe": _unsubscribe,
    "notice": _notice,
}
