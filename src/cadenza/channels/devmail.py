"""A development mailbox: a local SMTP server that keeps what it receives as .eml files."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller

from cadenza.channels.inbound_smtp import start_intake

_counter = itertools.count()
_lock = threading.Lock()


@dataclass(frozen=True)
class MailboxEntry:
    """One received email, as the UI lists it."""

    name: str
    sender: str
    to: str
    subject: str
    date: str
    message_id: str
    text: str


def start_mailbox(folder: Path, host: str, port: int) -> Controller:
    """Start the SMTP server on host:port; each message becomes a file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)

    def keep(raw: bytes, _recipients: list[str]) -> None:
        with _lock:
            name = f"{time.time_ns()}-{next(_counter):06d}.eml"
        (folder / name).write_bytes(raw)

    return start_intake(host, port, keep)


def read_mailbox(folder: Path, limit: int = 200) -> list[MailboxEntry]:
    """The newest received emails first."""
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain", "html"))
        entries.append(
            MailboxEntry(
                name=path.name,
                sender=str(message["From"] or ""),
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                date=str(message["Date"] or ""),
                message_id=str(message["Message-ID"] or ""),
                text=body.get_content() if body is not None else "",
            )
        )
    return entries
