"""Waking an idle worker the moment a step is made due: LISTEN on PostgreSQL, a nap on SQLite.

Migration 0010_ops makes every transaction that writes a live enrollment due now send one
NOTIFY on CHANNEL at commit. An idle worker waits on its own connection for it, with its
polling interval as the timeout, so polling remains the fallback: a lost connection, or a
step that falls due later with nothing written, is found by the next tick as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "cadenza_due"
# A stop (SIGTERM) is seen within this long, whatever the polling interval.
SLICE = 0.25


class Wakeup:
    """Waits for a due-now notification or the timeout, whichever comes first."""

    def __init__(self, engine: Engine | None) -> None:
        postgres = engine is not None and engine.dialect.name == "postgresql"
        # The driver wants plain `postgresql://`; the password stays in the URL it is given.
        self._url = (
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            if engine is not None and postgres
            else None
        )
        self._connection: Any = None

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Return on a notification, on `stop`, or after `timeout` seconds."""
        if self._url is None or stop.is_set():
            stop.wait(timeout)
            return
        try:
            connection = self._connection or self._listen()
            deadline = time.monotonic() + timeout
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                # Notifications that came while the worker was busy are waiting already:
                # the first one returns at once.
                if any(True for _ in connection.notifies(timeout=min(left, SLICE), stop_after=1)):
                    return
        except Exception as exc:  # the driver's errors: the listening connection was lost
            log.warning("wake-up connection lost; polling", extra={"error": str(exc)[:200]})
            self.close()
            stop.wait(timeout)

    def _listen(self) -> Any:
        import psycopg

        assert self._url is not None  # wait() listens on PostgreSQL only
        connection = psycopg.connect(self._url, autocommit=True)
        connection.execute(f"LISTEN {CHANNEL}")
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken connection: nothing is left to do
                log.debug("closing the wake-up connection failed", exc_info=True)
