"""Send email over SMTP through a persistent connection, classifying failures for retries.

`SmtpSender` holds one connection and sends one message at a time; `SmtpPool` shares a few
senders between threads for bounded concurrency. Both return a `SendResult` whose
`provider_id` is the message's Message-ID, or raise `TransientError` / `PermanentError`.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

from cadenza.channels.email import MimeEmail
from cadenza.channels.errors import AccountError, PermanentError, SendError, TransientError
from cadenza.channels.outgoing import SIMPLE_ADDRESS, SendResult
from cadenza.settings import Settings

log = logging.getLogger(__name__)


class SmtpSender:
    """One SMTP connection, opened on first use, checked after idling, reopened when lost."""

    def __init__(
        self,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        idle_check_after: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._idle_check_after = idle_check_after
        self._monotonic = monotonic
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._lock = threading.Lock()

    def send(self, message: MimeEmail, envelope_from: str, recipients: Sequence[str]) -> SendResult:
        """Hand `message` to the server for `recipients` (To, CC and BCC), or raise SendError."""
        with self._lock:
            try:
                detail = self._deliver(message.data, envelope_from, list(recipients))
            except SendError:
                self.close()
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                raise classify(exc, self._where) from exc
            finally:
                self._last_used = self._monotonic()
        return SendResult(provider_id=message.message_id, detail=detail)

    def close(self) -> None:
        """Say QUIT if the connection is still there, and forget it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _where(self) -> str:
        return f"{self._settings.smtp_host}:{self._settings.smtp_port}"

    def _deliver(self, data: bytes, envelope_from: str, recipients: list[str]) -> str:
        conn, reused = self._connection()
        try:
            code, reply = _mail(conn, envelope_from)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            code, reply = 421, b"connection closed"
        if code == 421 and reused:
            # The server let an idle connection go; nothing was sent yet: once more, afresh.
            log.debug("smtp connection to %s was closed; reconnecting", self._where)
            self.close()
            conn, _ = self._connection()
            code, reply = _mail(conn, envelope_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        return _finish(conn, data, recipients)

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        if self._conn is not None and self._alive(self._conn):
            return self._conn, True
        self.close()
        self._conn = self._connect()
        return self._conn, False

    def _alive(self, conn: smtplib.SMTP) -> bool:
        if self._monotonic() - self._last_used < self._idle_check_after:
            return True
        try:
            return conn.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        log.debug("opening smtp connection to %s (%s)", self._where, s.smtp_security)
        conn: smtplib.SMTP
        if s.smtp_security == "ssl":
            conn = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                local_hostname=self._local_hostname,
                timeout=s.smtp_timeout,
                context=self._tls_context(),
            )
        else:
            conn = smtplib.SMTP(
                s.smtp_host,
                s.smtp_port,
                local_hostname=self._local_hostname,
                timeout=s.smtp_timeout,
            )
        try:
            conn.ehlo()
            if s.smtp_security == "starttls":
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if s.smtp_username:
                conn.login(s.smtp_username, s.smtp_password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


class SmtpPool:
    """`size` senders shared by threads: at most `size` messages are in flight at once."""

    def __init__(
        self,
        settings: Settings,
        size: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        idle_check_after: float = 10.0,
    ) -> None:
        if size < 1:
            raise ValueError("an SMTP pool needs at least one connection")
        # Last in, first out: the most recently used connection is the least likely stale.
        self._idle: queue.LifoQueue[SmtpSender] = queue.LifoQueue()
        self._senders = [
            SmtpSender(
                settings,
                ssl_context=ssl_context,
                local_hostname=local_hostname,
                idle_check_after=idle_check_after,
            )
            for _ in range(size)
        ]
        for sender in self._senders:
            self._idle.put(sender)

    def send(self, message: MimeEmail, envelope_from: str, recipients: Sequence[str]) -> SendResult:
        """Send through the next free connection, waiting for one if all are busy."""
        with self._borrow() as sender:
            return sender.send(message, envelope_from, recipients)

    def close(self) -> None:
        """Close every connection (senders reopen them if used again)."""
        for sender in self._senders:
            sender.close()

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _borrow(self) -> Iterator[SmtpSender]:
        sender = self._idle.get()
        try:
            yield sender
        finally:
            self._idle.put(sender)


def classify(exc: BaseException, where: str) -> SendError:
    """The retry decision for an smtplib failure: 4xx and network trouble are transient."""
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return AccountError(f"SMTP server {where} refused our account: {_reply_text(exc)}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return AccountError(f"SMTP server {where} has an untrusted certificate: {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, _reply_text(exc))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"SMTP server {where} closed the connection")
    if isinstance(exc, TimeoutError):
        return TransientError(f"SMTP server {where} did not answer in time")
    if isinstance(exc, UnicodeEncodeError):
        return PermanentError("an address is not ASCII and cannot be sent over this connection")
    return TransientError(f"cannot talk to SMTP server {where}: {exc}")


# smtplib quotes each address by parsing it again (`quoteaddr`), a cost paid per message and
# per recipient. A bare dot-atom address needs no parsing: it is sent as `<address>`, which
# is what `quoteaddr` makes of it; anything else still goes through smtplib.
def _mail(conn: smtplib.SMTP, sender: str) -> tuple[int, bytes]:
    if not SIMPLE_ADDRESS.fullmatch(sender):
        return conn.mail(sender)
    conn.putcmd("mail", f"FROM:<{sender}>")
    return conn.getreply()


def _rcpt(conn: smtplib.SMTP, recipient: str) -> tuple[int, bytes]:
    if not SIMPLE_ADDRESS.fullmatch(recipient):
        return conn.rcpt(recipient)
    conn.putcmd("rcpt", f"TO:<{recipient}>")
    return conn.getreply()


def _finish(conn: smtplib.SMTP, data: bytes, recipients: list[str]) -> str:
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        code, reply = _rcpt(conn, rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = conn.data(data)
    if code != 250:  # data() returns a refusal instead of raising it
        raise smtplib.SMTPDataError(code, reply)
    detail = f"{code} {reply.decode(errors='replace')}"
    if refused:
        detail += "; refused: " + "; ".join(
            f"{rcpt}: {c} {r.decode(errors='replace')}" for rcpt, (c, r) in refused.items()
        )
    return detail


def _refused(recipients: dict[str, tuple[int, bytes]]) -> SendError:
    codes = [code for code, _ in recipients.values()]
    text = "; ".join(f"{r}: {c} {m.decode(errors='replace')}" for r, (c, m) in recipients.items())
    # One temporary refusal is enough to try again: that recipient may still accept it.
    return TransientError(text) if any(c < 500 for c in codes) else PermanentError(text)


def _by_code(code: int, text: str) -> SendError:
    message = f"{code} {text}".strip()
    if 500 <= code < 600:
        return PermanentError(message, code=str(code))
    return TransientError(message, code=str(code) if code > 0 else None)


def _reply_text(exc: BaseException) -> str:
    reply = getattr(exc, "smtp_error", None)
    if isinstance(reply, bytes):
        return reply.decode(errors="replace")
    return str(reply if reply is not None else exc)
