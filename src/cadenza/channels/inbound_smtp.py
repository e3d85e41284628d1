"""The inbound SMTP server: receives replies, bounces and lead emails and hands them on.

The handler only passes the raw bytes and the envelope recipients to a callback; the caller
decides what a recipient address means (replies mailbox, a sequence's lead intake address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, list[str]], None]
DEFAULT_SIZE_LIMIT = 25 * 1024 * 1024


class IntakeHandler:
    """aiosmtpd handler: each accepted message goes to `on_message(raw, recipients)`."""

    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Run the callback off the event loop; a failure asks the sender to retry later."""
        raw = envelope.original_content or _as_bytes(envelope.content)
        recipients = list(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        try:
            # The callback may write to the database: keep it away from the event loop.
            await loop.run_in_executor(None, self._on_message, raw, recipients)
        except Exception:
            log.exception("inbound message not processed", extra={"recipients": recipients})
            return "451 4.3.0 Message not processed, please try again later"
        return "250 2.0.0 Message accepted"


def start_intake(
    host: str, port: int, on_message: OnMessage, *, data_size_limit: int = DEFAULT_SIZE_LIMIT
) -> Controller:
    """Start the intake server in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(
        IntakeHandler(on_message), hostname=host, port=port, data_size_limit=data_size_limit
    )
    controller.start()
    return controller


def _as_bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    return str(content or "").encode("utf-8", "surrogateescape")
