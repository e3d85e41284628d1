"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Catcher:
    """The handler: every message received, and an optional reply code to answer with."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # each message's bytes, as received
    answer: str = "250 2.0.0 Ok: queued"
    delay: float = 0.0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.answer.startswith("250"):
            return self.answer
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            self.raw.append(envelope.content)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok: queued"

    def by_header(self, name: str) -> list[str]:
        with self.lock:
            return [str(m[name]) for m in self.messages]

    def env(self) -> dict[str, Any]:
        return {"CADENZA_SMTP_HOST": "127.0.0.1", "CADENZA_SMTP_PORT": str(self.port)}


@contextmanager
def smtp_catcher(**options: Any) -> Iterator[Catcher]:
    """Start a catcher on a free loopback port for the duration of the block."""
    catcher = Catcher(**options)
    catcher.port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    try:
        yield catcher
    finally:
        controller.stop()
