"""Sending the outbox: leasing due messages, what each becomes for its channel, its result.

`claim_ready` leases a batch, asks each message the last-moment question and paces it on its
sender; what may not go now is suppressed or put back with the reason. `outgoing` turns a
leased row into what a channel adapter sends. `record` writes results; only the lease
holder's are kept (a row leased again after its lease expired belongs to its new holder).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from cadenza.channels.errors import SendError, TransientError
from cadenza.channels.outgoing import (
    OutgoingEmail,
    OutgoingSms,
    OutgoingVoicemail,
    OutgoingWebhook,
    SendResult,
)
from cadenza.channels.providers import ProviderRoute
from cadenza.channels.voice import SIMULATED, OutgoingCall
from cadenza.core.decisions import HistoryEntry
from cadenza.core.last_check import Verdict
from cadenza.errors import ValidationFailed
from cadenza.services import history
from cadenza.services.outbox.last_check import last_moment_check
from cadenza.services.outbox.meta import MessageMeta
from cadenza.services.senders import health
from cadenza.services.senders.delivery import delivery_hold, routes_of
from cadenza.services.senders.limits import Limits, hold, plan_caps, sender_caps
from cadenza.services.voice import urls as voice_urls
from cadenza.settings import Settings
from cadenza.store.claims import claim_messages
from cadenza.store.models import Message

Outgoing = OutgoingEmail | OutgoingSms | OutgoingVoicemail | OutgoingWebhook | OutgoingCall


@dataclass
class Outcome:
    """What became of one leased message."""

    row: RowMapping
    result: SendResult | None = None
    error: SendError | None = None


@dataclass
class Claim:
    """A leased batch: how many rows were leased, those that may go now, and how email goes
    for the senders that do not simply use the SMTP relay (a provider, a DKIM key)."""

    claimed: int
    ready: list[RowMapping]
    routes: dict[str, ProviderRoute]


def claim_ready(session: Session, now: datetime, limit: int, settings: Settings) -> Claim:
    """Lease up to `limit` due messages and decide which of them may go now."""
    lease = now + timedelta(seconds=settings.dispatch_lease_seconds)
    rows = claim_messages(session, now, limit, lease, resend_expired=settings.resend_expired_leases)
    verdicts = last_moment_check(session, rows, now, settings)
    limits = Limits(session, settings)
    ready: list[RowMapping] = []
    for row in rows:
        verdict = verdicts[row["id"]]
        if verdict.kind == "send":
            verdict = _pace(limits, row, now) or verdict
        if verdict.kind == "send":
            ready.append(row)
        else:
            _hold_back(session, row, verdict, now)
    limits.flush()
    health.count_sends(session, [r["sender"] for r in ready if r["channel"] == "email"], now)
    return Claim(len(rows), ready, routes_of(limits))


def _pace(limits: Limits, row: RowMapping, now: datetime) -> Verdict | None:
    """The sender's pause, stagger, pace and caps, and for a sequence's email its owner's
    plan limit."""
    kind = "email" if row["channel"] == "email" else "sms"
    sender = limits.sender(kind, row["sender"]) if row["sender"] else None
    waiting = delivery_hold(sender, row, now) if sender is not None else None
    if waiting is not None:
        return waiting
    caps = sender_caps("send", sender, pace=True, now=now) if sender is not None else []
    plan = plan_caps(limits, "send", row["sequence_id"]) if row["channel"] == "email" else []
    if plan and not MessageMeta.read(row["meta"]).notify:  # notifications go to users
        caps += plan
    held = hold(limits, caps, now)
    return Verdict("defer", held[1], held[0]) if held else None


def _hold_back(session: Session, row: RowMapping, verdict: Verdict, now: datetime) -> None:
    if verdict.kind == "suppress":
        values: dict[str, Any] = {"status": "suppressed", "error": verdict.reason}
        event = "message_suppressed"
    else:  # defer: back in the queue, the attempt not counted
        values = {
            "status": "queued",
            "next_attempt_at": verdict.until,
            "attempts": row["attempts"] - 1,
        }
        event = "message_deferred"
    session.execute(
        update(Message).where(Message.id == row["id"]).values(lease_until=None, **values)
    )
    if verdict.kind == "suppress" or not verdict.reason.startswith("held: sender"):
        history.write(session, [_event(row, event, now, verdict.reason)])


def outgoing(row: RowMapping) -> Outgoing:
    """What the channel adapter sends for a leased row."""
    channel, details = row["channel"], MessageMeta.read(row["meta"])
    if channel == "email":
        return OutgoingEmail(
            key=row["key"],
            sender=row["sender"],
            to=row["recipient"],
            subject=row["subject"] or "",
            html=row["body"],
            cc=details.cc,
            bcc=details.bcc,
            reply_to=details.reply_to,
            in_reply_to=details.in_reply_to,
            references=details.references,
            track_opens=details.track_opens,
            track_clicks=details.track_clicks,
            tracked_links=details.tracked_links,
            unsubscribe=not (details.notify or details.system),
            contact_id=row["contact_id"],
            message_row_id=row["id"],
            message_id=details.message_id,
        )
    if channel in ("sms", "mms"):
        return OutgoingSms(
            key=row["key"],
            sender=row["sender"],
            to=row["recipient"],
            body=row["body"],
            media=details.media,
        )
    if channel == "voicemail":
        return OutgoingVoicemail(
            key=row["key"], sender=row["sender"], to=row["recipient"], audio_url=details.audio
        )
    if channel == "call":
        return voice_urls.outgoing_call(row, details)
    if channel == "webhook":
        return OutgoingWebhook(
            key=row["key"],
            url=row["recipient"],
            payload=details.payload,
            method=details.method,
            headers=details.headers,
        )
    raise ValidationFailed(f"no channel {channel!r}")


def record(
    session: Session, outcomes: Sequence[Outcome], now: datetime, settings: Settings
) -> None:
    """Each outcome's result in one UPDATE (executemany) and one insert of history rows."""
    if not outcomes:
        return
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for outcome in outcomes:
        row = outcome.row
        values: dict[str, Any] = dict.fromkeys(_RESULT_COLUMNS)
        values.update(_id=row["id"], _lease=row["lease_until"], error=None)
        if outcome.result is not None:
            values.update(status="sent", sent_at=now, provider_id=outcome.result.provider_id[:200])
            events.append(_event(row, "message_sent", now, None))
        elif isinstance(outcome.error, TransientError) and (
            row["attempts"] < settings.dispatch_max_attempts
        ):
            values.update(
                status="queued",
                error=str(outcome.error),
                next_attempt_at=now + _backoff(row["attempts"], outcome.error),
            )
        else:
            values.update(status="failed", error=str(outcome.error))
            events.append(_event(row, "message_failed", now, str(outcome.error)))
        values["next_attempt_at"] = values["next_attempt_at"] or row["next_attempt_at"]
        updates.append(values)
    session.execute(_RECORD, updates)
    history.write(session, events)
    for outcome in outcomes:  # the development sink's calls play through the call flows
        if outcome.result is not None and outcome.result.detail.startswith(SIMULATED):
            # Imported here: the flows record events, whose package imports the outbox's.
            from cadenza.services.voice import sink

            sink.play_safely(session, outcome.row, outcome.result, now, settings)


# Only the lease holder records: a row leased again after its lease expired is left alone.
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_RESULT_COLUMNS = ("status", "sent_at", "provider_id", "error", "next_attempt_at")
_RECORD = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("_id"),
        _MESSAGES.c.status == "sending",
        _MESSAGES.c.lease_until == bindparam("_lease"),
    )
    .values(lease_until=None)
)


def _backoff(attempts: int, error: TransientError) -> timedelta:
    """Exponential backoff with full jitter, or the provider's own Retry-After."""
    if error.retry_after:
        return timedelta(seconds=error.retry_after)
    ceiling = min(3600.0, 30.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _event(row: RowMapping, type_: str, now: datetime, reason: str | None) -> dict[str, Any]:
    subject = history.Subject(row["contact_id"], row["sequence_id"], row["enrollment_id"])
    entry = HistoryEntry(
        type_,
        now,
        row["step"],
        reason,
        _about(row),
    )
    return history.row(subject, entry)


def _about(row: RowMapping) -> dict[str, Any]:
    """A message event's data: its channel, key, recipient, sender and A/B variant if any."""
    data = {"channel": row["channel"], "key": row["key"], "to": row["recipient"]}
    if row["sender"]:
        data["sender"] = row["sender"]
    variant = (row["meta"] or {}).get("variant")
    if variant:
        data["variant"] = variant
    return data
