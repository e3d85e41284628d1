"""The engine inside `cadenza serve`: a worker and dispatcher thread, and the dev mailbox.

The thread is supervised: if the worker dies (the database went away, a bug), the error is
logged and kept, and the worker starts again after a pause that doubles up to a minute.
`health()` says what the thread is doing, for `/healthz`, which must not say "ok" while
nothing advances.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock, SystemClock
from cadenza.engine.runner import run_until_stopped
from cadenza.settings import Settings

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0  # seconds before the first restart; doubled each time, up to a minute
LONGEST_PAUSE = 60.0
# A worker that has not finished a tick for this long is stuck, whatever its thread says.
STALLED_AFTER = 120.0


@dataclass
class WorkerHealth:
    """What the embedded worker is doing, as /healthz reports it."""

    state: str = "off"  # off | running | restarting | stopped
    restarts: int = 0
    last_error: str | None = None
    last_tick: datetime | None = None

    def as_json(self, now: datetime) -> dict[str, Any]:
        idle = (now - self.last_tick).total_seconds() if self.last_tick else None
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "seconds_since_tick": round(idle, 1) if idle is not None else None,
        }


class EmbeddedEngine:
    """Starts with the server and stops with it (one process: the embedded default)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        *,
        worker: bool,
        restart_after: float = RESTART_AFTER,
    ) -> None:
        self.sessions, self.clock, self.settings, self.worker = sessions, clock, settings, worker
        self.restart_after = restart_after
        self.health = WorkerHealth()
        self._wall = SystemClock()  # heartbeats are real time, even when `clock` is fixed
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
            self.health.state = "running"
            self._thread = threading.Thread(
                target=self._supervise, name="cadenza-worker", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._mailbox is not None:
            self._mailbox.stop()
        if self.worker:
            self.health.state = "stopped"

    def healthy(self) -> bool:
        """True when the worker is off by choice, or running and ticking."""
        if not self.worker:
            return True
        thread_alive = self._thread is not None and self._thread.is_alive()
        if self.health.state != "running" or not thread_alive:
            return False
        tick = self.health.last_tick
        return tick is None or (self._wall.now() - tick).total_seconds() < STALLED_AFTER

    def _supervise(self) -> None:
        pause = self.restart_after
        while not self._stop.is_set():
            try:
                run_until_stopped(
                    self.sessions, self.clock, self.settings, self._stop, on_tick=self._ticked
                )
            except Exception as exc:
                log.exception("embedded worker died; restarting", extra={"pause": pause})
                self.health.state = "restarting"
                self.health.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.health.restarts += 1
                if self._stop.wait(pause):
                    return
                pause = min(pause * 2, LONGEST_PAUSE)
                self.health.state = "running"
            else:
                return  # stopped on purpose

    def _ticked(self) -> None:
        self.health.last_tick = self._wall.now()
