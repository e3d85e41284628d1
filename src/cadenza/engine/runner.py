"""Running the engine: drain once (worker --once) or loop until told to stop."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.engine.worker import Worker
from cadenza.settings import Settings


def drain_once(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    *,
    batch: int = 200,
    send: bool = True,
) -> tuple[int, int]:
    """Advance everything due now, then send what is queued: (steps advanced, messages sent)."""
    worker = Worker(sessions, clock, settings, batch_size=batch)
    advanced = worker.drain()
    return advanced, _send_queued(sessions, clock, settings) if send else 0


def run_until_stopped(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    stop: threading.Event,
    *,
    batch: int = 200,
) -> None:
    """The long-running worker: advance and send until `stop` is set."""
    worker = Worker(sessions, clock, settings, batch_size=batch)
    worker.run(stop, after_tick=lambda: _send_queued(sessions, clock, settings))


def _send_queued(sessions: sessionmaker[Session], clock: Clock, settings: Settings) -> int:
    try:
        from cadenza.engine.dispatcher import drain  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return 0  # no dispatcher in this build: messages stay queued
    return int(drain(sessions, clock, settings))
