"""Inbound texts and delivery reports: STOP, START, HELP, replies, failed deliveries.

Opt-out and opt-in apply to every contact with the number: consent belongs to the phone.
A reply is about the contact we last texted from the number it was sent to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.channels.inbound_sms import SmsIntent, classify_sms
from cadenza.channels.twilio import parse_status_callback
from cadenza.services import history
from cadenza.services.inbound.matching import (
    ACTOR,
    InboundResult,
    apply_event,
    clean_text,
    contacts_by_phone,
    e164,
    excerpt,
    record_history,
    record_unmatched,
)
from cadenza.settings import Settings
from cadenza.store.models import Message, Sender

SMS_CHANNELS = ("sms", "mms")
# Texts of a number's contacts looked at to find what a reply answers.
RECENT_TEXTS = 50


def handle_sms(
    *,
    session: Session,
    from_number: str,
    to_number: str,
    body: str,
    now: datetime,
    settings: Settings,
    answer_inline: bool = False,
) -> InboundResult:
    """What a text means, applied; `answer_inline`: the caller sends the HELP answer itself."""
    # NULs cleaned here, before anything is read or stored: no PostgreSQL text holds one.
    number = e164(clean_text(from_number), settings.default_region)
    ours = e164(clean_text(to_number), settings.default_region)
    body = clean_text(body)
    intent = classify_sms(body)
    contact_ids = contacts_by_phone(session, number)
    if intent is SmsIntent.HELP:
        return _help(session, number, ours, contact_ids, now, settings, answer_inline)
    if not contact_ids:
        reason = f"{intent.value} text from {number}: no contact has this number"
        return record_unmatched(
            session, now, "sms", reason, sender=number, to=ours, text=excerpt(body)
        )
    if intent is SmsIntent.REPLY:
        return _reply(session, number, ours, contact_ids, body, now, settings)
    name = "sms_opted_out" if intent is SmsIntent.OPT_OUT else "sms_opted_in"
    results = [
        apply_event(session, cid, name, now, settings, None, number=number, text=excerpt(body))
        for cid in contact_ids
    ]
    return results[0] if len(results) == 1 else _many(results)


def _reply(
    session: Session,
    number: str,
    ours: str,
    contact_ids: list[int],
    body: str,
    now: datetime,
    settings: Settings,
) -> InboundResult:
    texted = _last_text(session, contact_ids, ours)
    contact_id = texted.contact_id if texted is not None and texted.contact_id else contact_ids[0]
    return apply_event(
        session, contact_id, "replied", now, settings, texted, channel="sms", text=excerpt(body)
    )


def _last_text(session: Session, contact_ids: list[int], ours: str) -> Message | None:
    """The latest text to these contacts, preferring those sent from our number `ours`."""
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.contact_id.in_(contact_ids), Message.channel.in_(SMS_CHANNELS))
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(RECENT_TEXTS)
        )
    )
    return next((m for m in rows if m.sender == ours), rows[0] if rows else None)


def _help(
    session: Session,
    number: str,
    ours: str,
    contact_ids: list[int],
    now: datetime,
    settings: Settings,
    answer_inline: bool,
) -> InboundResult:
    text = help_text(session, ours, settings)
    key = f"help:{number}:{now.strftime('%Y%m%dT%H%M%S.%fZ')}"
    if session.scalar(select(Message.id).where(Message.key == key)) is None:
        session.add(_help_message(key, number, ours, text, contact_ids, now, answer_inline))
    targets: list[int | None] = [*contact_ids] or [None]
    for contact_id in targets:
        record_history(session, "sms_help", now, contact_id, None, None, number=number, key=key)
    return InboundResult(
        "help",
        contact_id=contact_ids[0] if contact_ids else None,
        message_key=key,
        detail="answered inline" if answer_inline else "answer queued",
        reply=text,
    )


def _help_message(
    key: str,
    number: str,
    ours: str,
    text: str,
    contact_ids: list[int],
    now: datetime,
    answered: bool,
) -> Message:
    # No contact on the row: the answer must go even to a contact who opted out (carriers
    # require it) and right away, so the dispatcher's contact checks do not apply to it.
    return Message(
        key=key,
        channel="sms",
        sender=ours,
        recipient=number,
        body=text,
        meta={"help": True, "contact_ids": contact_ids},
        status="sent" if answered else "queued",
        attempts=0,
        next_attempt_at=None if answered else now,
        provider_id="twiml-reply" if answered else None,
        created_at=now,
        sent_at=now if answered else None,
    )


def help_text(session: Session, ours: str, settings: Settings) -> str:
    """The HELP answer: CADENZA_SMS_HELP_TEXT, else one naming the sender's line."""
    configured = settings.sms_help_text
    if configured:
        return str(configured)
    name = session.scalar(select(Sender.name).where(Sender.kind == "sms", Sender.address == ours))
    return f"{name or ours}: reply to this message to reach us. Reply STOP to opt out."


def record_sms_status(
    *, session: Session, params: Mapping[str, str], now: datetime, settings: Settings
) -> InboundResult:
    """A provider's delivery report: the outbox message's delivery status, and failures."""
    params = {name: clean_text(value) for name, value in params.items()}
    report = parse_status_callback(params)
    number = e164(params.get("To", ""), settings.default_region)
    message = _by_provider_id(session, report.provider_id, number)
    if message is None:
        return InboundResult("ignored", detail=f"no text {report.provider_id or '(no id)'}")
    message.meta = {**message.meta, "delivery_status": report.status}
    if not report.failed:
        return InboundResult("delivery", contact_id=message.contact_id, message_key=message.key,
                             step=message.step, detail=report.status)  # fmt: skip
    error = f"{report.status}: {report.error_code or '?'} {report.error_message or ''}".strip()
    message.status, message.error = "failed", error
    history.record(
        session,
        history.Subject(message.contact_id, message.sequence_id, message.enrollment_id),
        "message_failed",
        now,
        step=message.step,
        reason=error,
        actor=ACTOR,
        channel=message.channel,
        key=message.key,
        to=message.recipient,
    )
    return InboundResult("failed", contact_id=message.contact_id, message_key=message.key,
                         step=message.step, detail=error)  # fmt: skip


def _by_provider_id(session: Session, provider_id: str, number: str) -> Message | None:
    # Through the recipient's contacts and the (contact_id, created_at) index: provider ids
    # have no index of their own.
    if not provider_id:
        return None
    contact_ids = contacts_by_phone(session, number)
    if not contact_ids:
        return None
    return session.scalar(
        select(Message).where(
            Message.contact_id.in_(contact_ids),
            Message.channel.in_((*SMS_CHANNELS, "voicemail")),
            Message.provider_id == provider_id,
        )
    )


def _many(results: list[InboundResult]) -> InboundResult:
    first = results[0]
    return InboundResult(first.outcome, contact_id=first.contact_id,
                         detail=f"{len(results)} contacts share this number")  # fmt: skip
