"""The dispatcher: outbox rows to channels, once, and only to contacts that may still be reached.

A message goes through three steps. First it is claimed: a transaction leases the due rows,
checks compliance again at this last moment, and applies sender pacing. Then it is sent,
outside any transaction, a bounded number at a time. Last, one transaction records each result.
A crash while sending leaves rows `sending` with a lease. When the lease expires they are
either resent with the same key and Message-ID, or held for a person, as settings say.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, sessionmaker

from cadenza.channels.email import build_email
from cadenza.channels.errors import PermanentError, SendError, TransientError
from cadenza.channels.outgoing import (
    OutgoingEmail,
    OutgoingSms,
    OutgoingVoicemail,
    OutgoingWebhook,
    SendResult,
)
from cadenza.channels.sms import SmsProvider, make_provider
from cadenza.channels.smtp import SmtpPool
from cadenza.channels.webhooks import WebhookSender
from cadenza.clock import Clock
from cadenza.core.decisions import HistoryEntry
from cadenza.engine.compliance import Verdict, last_moment_check
from cadenza.engine.limits import Limits, sender_hold
from cadenza.services import history
from cadenza.settings import Settings
from cadenza.store.claims import claim_messages
from cadenza.store.db import writing
from cadenza.store.models import Message

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What became of one claimed message."""

    row: RowMapping
    result: SendResult | None = None
    error: SendError | None = None


class Channels:
    """The channel adapters a dispatcher sends through (injectable for tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        smtp: SmtpPool | None = None,
        sms: SmsProvider | None = None,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.settings = settings
        self._smtp, self._sms, self._webhooks = smtp, sms, webhooks

    @property
    def smtp(self) -> SmtpPool:
        if self._smtp is None:
            self._smtp = SmtpPool(self.settings, max(1, self.settings.dispatch_concurrency))
        return self._smtp

    @property
    def sms(self) -> SmsProvider:
        if self._sms is None:
            self._sms = make_provider(self.settings, Path(self.settings.sms_sink_path))
        return self._sms

    @property
    def webhooks(self) -> WebhookSender:
        if self._webhooks is None:
            self._webhooks = WebhookSender.from_settings(self.settings)
        return self._webhooks

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()


class Dispatcher:
    """Sends what the outbox holds, batch by batch."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        *,
        channels: Channels | None = None,
        batch_size: int = 100,
    ) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self.channels = channels or Channels(settings)
        self.batch_size = batch_size
        self._pool = ThreadPoolExecutor(
            max(1, settings.dispatch_concurrency), thread_name_prefix="send"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.channels.close()

    def tick(self) -> tuple[int, int]:
        """Claim, send and record one batch: (messages claimed, messages sent)."""
        claimed, sending = self._claim_and_send()
        return claimed, self._record_when_sent(sending)

    def drain(self) -> int:
        """Send everything due now (what pacing or quiet hours hold back waits); how many sent.

        The next batch is claimed and handed to the senders before the one in flight is
        recorded, so that the SMTP connections are not left idle while the database works.
        """
        total = 0
        sending: list[Future[Outcome]] = []
        try:
            while True:
                claimed, following = self._claim_and_send()
                sent, sending = sending, following
                total += self._record_when_sent(sent)
                if claimed == 0:
                    return total
        finally:
            # Leaving on an error: the batch in flight is still awaited and recorded, rather
            # than left `sending` to go out again when its lease expires.
            self._record_when_sent(sending)

    def _claim_and_send(self) -> tuple[int, list[Future[Outcome]]]:
        """Claim a batch in its own transaction and queue its messages for the senders."""
        with writing(self.sessions) as session:
            claimed, ready = self._claim(session, self.clock.now())
        return claimed, [self._pool.submit(self._send_one, row) for row in ready]

    def _record_when_sent(self, sending: list[Future[Outcome]]) -> int:
        """Wait for a batch's sends and record them in one transaction; how many were sent."""
        if not sending:
            return 0
        outcomes = [future.result() for future in sending]
        with writing(self.sessions) as session:
            self._record(session, outcomes, self.clock.now())
        return sum(1 for o in outcomes if o.result is not None)

    # --- claim -----------------------------------------------------------------------------

    def _claim(self, session: Session, now: datetime) -> tuple[int, list[RowMapping]]:
        lease = now + timedelta(seconds=self.settings.dispatch_lease_seconds)
        rows = claim_messages(
            session, now, self.batch_size, lease, resend_expired=self.settings.resend_expired_leases
        )
        verdicts = last_moment_check(session, rows, now, self.settings)
        limits = Limits(session)
        ready: list[RowMapping] = []
        for row in rows:
            verdict = verdicts[row["id"]]
            if verdict.kind == "send":
                verdict = self._pace(limits, row, now) or verdict
            if verdict.kind == "send":
                ready.append(row)
            else:
                self._hold_back(session, row, verdict, now)
        limits.flush()
        return len(rows), ready

    def _pace(self, limits: Limits, row: RowMapping, now: datetime) -> Verdict | None:
        kind = "email" if row["channel"] == "email" else "sms"
        sender = limits.sender(kind, row["sender"]) if row["sender"] else None
        if sender is None:
            return None
        held = sender_hold(limits, "send", sender, now, pace=True)
        return Verdict("defer", held[1], held[0]) if held else None

    def _hold_back(
        self, session: Session, row: RowMapping, verdict: Verdict, now: datetime
    ) -> None:
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
            _log_event(session, row, event, now, verdict.reason)

    # --- send ------------------------------------------------------------------------------

    def _send_one(self, row: RowMapping) -> Outcome:
        try:
            return Outcome(row, result=self._send(row))
        except SendError as exc:
            return Outcome(row, error=exc)
        except Exception as exc:  # a bug in one message must not stop the batch
            log.exception("sending failed unexpectedly", extra={"key": row["key"]})
            return Outcome(row, error=TransientError(f"unexpected error: {exc}"))

    def _send(self, row: RowMapping) -> SendResult:
        channel, meta = row["channel"], row["meta"] or {}
        if channel == "email":
            email = OutgoingEmail(
                key=row["key"],
                sender=row["sender"],
                to=row["recipient"],
                subject=row["subject"] or "",
                html=row["body"],
                cc=meta.get("cc") or [],
                bcc=meta.get("bcc") or [],
                reply_to=meta.get("reply_to"),
                in_reply_to=meta.get("in_reply_to"),
                references=meta.get("references") or [],
                track_opens=bool(meta.get("track_opens")),
                track_clicks=bool(meta.get("track_clicks")),
                unsubscribe=not meta.get("notify"),
                contact_id=row["contact_id"],
                message_row_id=row["id"],
                message_id=meta.get("message_id"),
            )
            message = build_email(email, self.settings, date=self.clock.now())
            return self.channels.smtp.send(message, email.envelope_from, email.recipients)
        if channel in ("sms", "mms"):
            return self.channels.sms.send_sms(
                OutgoingSms(
                    key=row["key"],
                    sender=row["sender"],
                    to=row["recipient"],
                    body=row["body"],
                    media=meta.get("media") or [],
                )
            )
        if channel == "voicemail":
            return self.channels.sms.send_voicemail(
                OutgoingVoicemail(
                    key=row["key"],
                    sender=row["sender"],
                    to=row["recipient"],
                    audio_url=meta.get("audio", ""),
                )
            )
        if channel == "webhook":
            return self.channels.webhooks.send(
                OutgoingWebhook(
                    key=row["key"],
                    url=row["recipient"],
                    payload=meta.get("payload") or {},
                    method=meta.get("method", "POST"),
                    headers=meta.get("headers") or {},
                )
            )
        raise PermanentError(f"no channel {channel!r}")

    # --- record ----------------------------------------------------------------------------

    def _record(self, session: Session, outcomes: Sequence[Outcome], now: datetime) -> None:
        """One UPDATE for the batch (executemany) and one insert for its history rows."""
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for outcome in outcomes:
            row = outcome.row
            values = dict.fromkeys(_RESULT_COLUMNS)
            values.update(_id=row["id"], _lease=row["lease_until"], error=None)
            if outcome.result is not None:
                values.update(
                    status="sent", sent_at=now, provider_id=outcome.result.provider_id[:200]
                )
                events.append(_event(row, "message_sent", now, None))
            elif isinstance(outcome.error, TransientError) and (
                row["attempts"] < self.settings.dispatch_max_attempts
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
        {"channel": row["channel"], "key": row["key"], "to": row["recipient"]},
    )
    return history.row(subject, entry)


def _log_event(
    session: Session, row: RowMapping, type_: str, now: datetime, reason: str | None
) -> None:
    history.write(session, [_event(row, type_, now, reason)])
