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
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, sessionmaker

from cadenza.channels import dkim_signing
from cadenza.channels.email import MimeEmail, build_email
from cadenza.channels.errors import SendError, TransientError
from cadenza.channels.outgoing import (
    OutgoingEmail,
    OutgoingSms,
    OutgoingVoicemail,
    OutgoingWebhook,
    SendResult,
)
from cadenza.channels.providers import EmailProvider, ProviderRoute, make_email_provider
from cadenza.channels.sms import SmsProvider, make_provider
from cadenza.channels.smtp import SmtpPool
from cadenza.channels.voice import (
    OutgoingCall,
    VoicemailProvider,
    VoiceProvider,
    make_voice_provider,
    make_voicemail_provider,
)
from cadenza.channels.webhooks import WebhookSender
from cadenza.clock import Clock
from cadenza.metrics import SENDS
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
        voice: VoiceProvider | None = None,
        voicemail: VoicemailProvider | None = None,
        email_transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._smtp, self._sms, self._webhooks = smtp, sms, webhooks
        self._voice, self._voicemail = voice, voicemail
        # HTTP email providers, one per configuration, made on first use; their secrets
        # are read from the environment (`env`, injectable for tests).
        self._email_transport = email_transport
        self._env = env if env is not None else os.environ
        self._providers: dict[ProviderRoute, EmailProvider] = {}
        self._providers_lock = threading.Lock()

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
    def voice(self) -> VoiceProvider:
        if self._voice is None:
            self._voice = make_voice_provider(self.settings)
        return self._voice

    @property
    def voicemail(self) -> VoicemailProvider:
        """Who drops ringless voicemail: Slybroadcast when configured, else the SMS provider."""
        if self._voicemail is None:
            self._voicemail = make_voicemail_provider(self.settings) or self.sms
        return self._voicemail

    @property
    def webhooks(self) -> WebhookSender:
        if self._webhooks is None:
            self._webhooks = WebhookSender.from_settings(self.settings)
        return self._webhooks

    def email_provider(self, route: ProviderRoute) -> EmailProvider:
        """The HTTP provider for a sender's route (AccountError when it cannot be made)."""
        key = ProviderRoute(route.provider, route.config)  # the DKIM key does not matter here
        with self._providers_lock:
            provider = self._providers.get(key)
            if provider is None:
                provider = make_email_provider(
                    route.provider, route.settings, self._env, self._email_transport
                )
                self._providers[key] = provider
            return provider

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        if self._voice is not None:
            self._voice.close()
        for provider in self._providers.values():
            provider.close()


class Recorder:
    """Commits send results as they complete, in groups, for the senders that hand them in.

    A sender hands its result in and goes on preparing its next message; before it sends
    that one it `settle`s the ticket of the last: the result must be committed first. So a
    crash can re-deliver at most one message per sender, the one it was sending, while
    building a message overlaps with the commit of the one before.

    Group commit: the first to settle with no commit running writes every result waiting
    (its own and the others'); the rest wait for that commit. Before it writes, it gives
    the sends still going a moment (`GATHER` at most) to finish, so that one transaction
    takes the results of many senders rather than of one or two: commits, not sends, are
    what a dispatcher would otherwise wait on.
    """

    GATHER = 0.002  # seconds a commit waits for the sends still going

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self._lock = threading.Condition()
        self._waiting: list[Outcome] = []
        self._next = 0  # the number the next commit will have
        self._done = 0  # commits finished (successfully or not)
        self._failed: dict[int, BaseException] = {}
        self._writing = False
        self._sending = 0  # sends started whose outcome is not yet handed in

    def started(self) -> None:
        """A send starts: a commit about to be made may wait a moment for its result."""
        with self._lock:
            self._sending += 1

    def hand_in(self, outcome: Outcome) -> int:
        """Queue a send's result for the next commit; the ticket to `settle`."""
        with self._lock:
            self._sending -= 1
            self._waiting.append(outcome)
            self._lock.notify_all()
            return self._next

    def settle(self, ticket: int | None) -> None:
        """Wait until the results of `ticket` (and before) are committed; raise what it raised."""
        if ticket is None:
            return
        with self._lock:
            while self._done <= ticket:
                if self._writing:
                    self._lock.wait()
                    continue
                self._gather()
                if self._writing or self._done > ticket:
                    continue  # another one took the commit meanwhile
                self._commit()
            failed = self._failed.get(ticket)
        if failed is not None:
            raise failed

    def _commit(self) -> None:
        """Write every result waiting in one transaction (called, and returning, locked)."""
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

    def _gather(self) -> None:
        """Wait (locked) while sends are still going, `GATHER` at most."""
        deadline = time.monotonic() + self.GATHER
        while self._sending > 0 and not self._writing:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._lock.wait(left)


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
        self._last = threading.local()  # each sender's last ticket
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
        sending: list[Future[Sent]] = []
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

    def _claim_and_send(self) -> tuple[int, list[Future[Sent]]]:
        """Claim a batch in its own transaction and queue its messages for the senders."""
        with writing(self.sessions) as session:
            claim = claim_ready(session, self.clock.now(), self.batch_size, self.settings)
        routes = claim.routes
        return claim.claimed, [
            self._pool.submit(self._send_and_record, row, routes.get(row["sender"]))
            for row in claim.ready
        ]

    def _sent(self, sending: list[Future[Sent]]) -> int:
        """Wait for sends and for their results to be committed; how many went."""
        done = [future.result() for future in sending]
        self.recorder.settle(max((ticket for _o, ticket in done), default=None))
        return sum(1 for outcome, _t in done if outcome.result is not None)

    def _send_and_record(self, row: RowMapping, route: ProviderRoute | None = None) -> Sent:
        """Prepare, wait for this sender's last result to be committed, send, hand it in."""
        try:
            prepared: Outgoing | SendError = self._prepare(row, route)
        except SendError as exc:
            prepared = exc
        except Exception as exc:  # a bug in one message must not stop the batch
            log.exception("preparing a message failed", extra={"key": row["key"]})
            prepared = TransientError(f"unexpected error: {exc}")
        self.recorder.settle(getattr(self._last, "ticket", None))
        self.recorder.started()
        outcome = self._send_one(row, prepared)
        SENDS.labels("sent" if outcome.error is None else type(outcome.error).__name__).inc()
        self._last.ticket = ticket = self.recorder.hand_in(outcome)
        return outcome, ticket

    def _prepare(self, row: RowMapping, route: ProviderRoute | None) -> Outgoing:
        """What goes out for a row: an email is built (MIME) before its turn to be sent,
        and signed when its sender has a DKIM key and sends through the relay."""
        message = outgoing(row)
        if isinstance(message, OutgoingEmail):
            mime = build_email(message, self.settings, date=self.clock.now())
            if route is not None and route.provider == "smtp" and route.dkim_key:
                domain = message.envelope_from.rpartition("@")[2]
                mime = dkim_signing.sign(
                    mime, route.dkim_selector or "cadenza", domain, route.dkim_key
                )
            return Built(message, mime, route)
        return message

    def _send_one(self, row: RowMapping, prepared: Outgoing | SendError) -> Outcome:
        if isinstance(prepared, SendError):
            return Outcome(row, error=prepared)
        try:
            return Outcome(row, result=self._send(prepared))
        except SendError as exc:
            return Outcome(row, error=exc)
        except Exception as exc:  # a bug in one message must not stop the batch
            log.exception("sending failed unexpectedly", extra={"key": row["key"]})
            return Outcome(row, error=TransientError(f"unexpected error: {exc}"))

    def _send(self, message: Outgoing) -> SendResult:
        if isinstance(message, Built):
            email, route = message.email, message.route
            if route is not None and route.provider != "smtp":
                return self.channels.email_provider(route).send(email, message.mime)
            return self.channels.smtp.send(message.mime, email.envelope_from, email.recipients)
        if isinstance(message, OutgoingSms):
            return self.channels.sms.send_sms(message)
        if isinstance(message, OutgoingVoicemail):
            return self.channels.voicemail.send_voicemail(message)
        if isinstance(message, OutgoingCall):
            return self.channels.voice.place_call(message)
        assert isinstance(message, OutgoingWebhook)
        return self.channels.webhooks.send(message)


@dataclass(frozen=True, slots=True)
class Built:
    """An email ready to go: what it is, and its MIME message."""

    email: OutgoingEmail
    mime: MimeEmail
    route: ProviderRoute | None = None  # None: the SMTP relay, unsigned


Outgoing = Built | OutgoingSms | OutgoingVoicemail | OutgoingWebhook | OutgoingCall
Sent = tuple[Outcome, int]  # a send's outcome, and the ticket of the commit that records it
