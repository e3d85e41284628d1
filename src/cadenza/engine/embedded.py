"""The engine inside `cadenza serve`: a worker and dispatcher thread, and the dev mailbox."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.engine.runner import run_until_stopped
from cadenza.settings import Settings

log = logging.getLogger(__name__)


class EmbeddedEngine:
    """Starts with the server and stops with it (one process: the embedded default)."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, settings: Settings, *, worker: bool
    ) -> None:
        self.sessions, self.clock, self.settings, self.worker = sessions, clock, settings, worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mailbox: Controller | None = None

    def start(self) -> None:
        if self.settings.dev_mailbox:
            from cadenza.channels.devmail import start_mailbox

            self._mailbox = start_mailbox(
                Path(self.settings.dev_mailbox), self.settings.smtp_host, self.settings.smtp_port
            )
            log.info("dev mailbox listening", extra={"port": self.settings.smtp_port})
        if self.worker:
            self._thread = threading.Thread(
                target=run_until_stopped,
                name="cadenza-worker",
                daemon=True,
                args=(self.sessions, self.clock, self.settings, self._stop),
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._mailbox is not None:
            self._mailbox.stop()
