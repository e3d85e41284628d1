"""The dispatcher: outbox rows to channels, once, and only to contacts that may still be reached.

A message goes through three steps. First it is claimed: a transaction leases the due rows,
checks compliance again at this last moment, and applies sender pacing. Then it is sent,
outside any transaction, a bounded number at a time. Last, its result is recorded as soon as
it is known: each sender waits until its result is committed before it takes another
message, so a crash re-delivers at most the messages in flight (`dispatch_concurrency`),
never a whole batch. Results that complete together are committed together.
A crash while sending leaves rows `sending` with a lease. When the lease expires they are
either resent with the same key and Message-ID, or held for a person, as settings say.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, sessionmaker

from cadenza.channels.email import build_email
from cadenza.channels.errors import SendError, TransientError
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
from cadenza.services.outbox import Outcome, claim_ready, outgoing, record
from cadenza.settings import Settings
from cadenza.store.db import writing

log = logging.getLogger(__name__)


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


class Recorder:
    """Commits send results as they complete; a sender returns once its own is committed.

    Group commit: the first sender to find no commit running writes every result waiting
    (its own and the others'), the rest wait for that commit. Results never wait for a
    whole batch, and a batch of results costs one transaction.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self._lock = threading.Condition()
        self._waiting: list[Outcome] = []
        self._next = 0  # the number the next commit will have
        self._done = 0  # commits finished (successfully or not)
        self._failed: dict[int, BaseException] = {}
        self._writing = False

    def record(self, outcome: Outcome) -> None:
        """Commit this outcome (with whatever else is waiting); raise what the commit raised."""
        with self._lock:
            self._waiting.append(outcome)
            mine = self._next
            while self._done <= mine:
                if self._writing:
                    self._lock.wait()
                    continue
                self._writing = True
                batch, self._waiting = self._waiting, []
                number = self._next
                self._next += 1
                self._lock.release()
                error: BaseException | None = None
                try:
                    with writing(self.sessions) as session:
                        record(session, batch, self.clock.now(), self.settings)
                except BaseException as exc:
                    error = exc
                finally:
                    self._lock.acquire()
                    self._writing = False
                    self._done = number + 1
                    if error is not None:
                        self._failed[number] = error
                        for old in [n for n in self._failed if n < number - 1000]:
                            del self._failed[old]
                    self._lock.notify_all()
            failed = self._failed.get(mine)
        if failed is not None:
            raise failed


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
        self.recorder = Recorder(sessions, clock, settings)
        self._pool = ThreadPoolExecutor(
            max(1, settings.dispatch_concurrency), thread_name_prefix="send"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.channels.close()

    def tick(self) -> tuple[int, int]:
        """Claim, send and record one batch: (messages claimed, messages sent)."""
        claimed, sending = self._claim_and_send()
        return claimed, self._sent(sending)

    def drain(self) -> int:
        """Send everything due now (what pacing or quiet hours hold back waits); how many sent.

        The next batch is claimed and handed to the senders while the one in flight is still
        going, so that the SMTP connections are not left idle while the database works.
        """
        total = 0
        sending: list[Future[Outcome]] = []
        try:
            while True:
                claimed, following = self._claim_and_send()
                sent, sending = sending, following
                total += self._sent(sent)
                if claimed == 0:
                    return total
        finally:
            # Leaving on an error: what is in flight is still awaited (and so recorded),
            # rather than left `sending` to go out again when its lease expires.
            self._sent(sending)

    def _claim_and_send(self) -> tuple[int, list[Future[Outcome]]]:
        """Claim a batch in its own transaction and queue its messages for the senders."""
        with writing(self.sessions) as session:
            claimed, ready = claim_ready(session, self.clock.now(), self.batch_size, self.settings)
        return claimed, [self._pool.submit(self._send_and_record, row) for row in ready]

    @staticmethod
    def _sent(sending: list[Future[Outcome]]) -> int:
        """Wait for sends (each recorded by its sender); how many went."""
        outcomes = [future.result() for future in sending]
        return sum(1 for o in outcomes if o.result is not None)

    def _send_and_record(self, row: RowMapping) -> Outcome:
        outcome = self._send_one(row)
        self.recorder.record(outcome)
        return outcome

    def _send_one(self, row: RowMapping) -> Outcome:
        try:
            return Outcome(row, result=self._send(row))
        except SendError as exc:
            return Outcome(row, error=exc)
        except Exception as exc:  # a bug in one message must not stop the batch
            log.exception("sending failed unexpectedly", extra={"key": row["key"]})
            return Outcome(row, error=TransientError(f"unexpected error: {exc}"))

    def _send(self, row: RowMapping) -> SendResult:
        message = outgoing(row)
        if isinstance(message, OutgoingEmail):
            mime = build_email(message, self.settings, date=self.clock.now())
            return self.channels.smtp.send(mime, message.envelope_from, message.recipients)
        if isinstance(message, OutgoingSms):
            return self.channels.sms.send_sms(message)
        if isinstance(message, OutgoingVoicemail):
            return self.channels.sms.send_voicemail(message)
        assert isinstance(message, OutgoingWebhook)
        return self.channels.webhooks.send(message)
