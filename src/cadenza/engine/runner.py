"""Running the engine: drain once (`worker --once`) or loop until told to stop."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.engine.audiences import AudienceRunner
from cadenza.engine.worker import DEFAULT_BATCH, Worker
from cadenza.settings import Settings
from cadenza.store import partitions

log = logging.getLogger(__name__)
DELIVERY_INTERVAL = 1.0  # seconds between looks for due webhook deliveries
MONTHS_INTERVAL = 86400.0  # seconds between makings of history's months ahead
MONTHS_RETRY = 3600.0  # seconds before another try when making them failed


class MonthsAhead:
    """History's partitions for the months ahead (PostgreSQL), made at start and once a day:
    they exist months before any row needs them, so a day's delay is of no consequence."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock
        bind = sessions.kw.get("bind")
        self._due = 0.0 if bind is not None and bind.dialect.name == "postgresql" else math.inf

    def __call__(self) -> None:
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + MONTHS_INTERVAL
        try:
            with self.sessions.begin() as session:
                made = partitions.ensure(session.connection(), self.clock.now())
        except Exception:  # the database went away, or a row landed meanwhile: try again
            log.exception("making history's months ahead failed")
            self._due = time.monotonic() + MONTHS_RETRY
            return
        if made:
            log.info("history partitions made", extra={"partitions": made})


def drain_once(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    *,
    batch: int = DEFAULT_BATCH,
    send: bool = True,
) -> tuple[int, int]:
    """Evaluate due audiences, advance everything due now, then send what is queued: (steps
    advanced, messages sent)."""
    MonthsAhead(sessions, clock)()
    AudienceRunner(sessions, clock, settings).run()
    advanced = Worker(sessions, clock, settings, batch_size=batch).drain()
    if not send:
        return advanced, 0
    # Imported here: the channels (httpx, lxml, smtplib) are 10 MiB a worker that does not
    # send has no use for.
    from cadenza.engine.dispatcher import Dispatcher
    from cadenza.services.subscriptions import deliver_due

    dispatcher = Dispatcher(sessions, clock, settings)
    try:
        sent = dispatcher.drain()
    finally:
        dispatcher.close()
    # After the outbox: what this run sent is already in history for the subscribers.
    deliver_due(sessions, clock, settings)
    return advanced, sent


def run_until_stopped(
    sessions: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    stop: threading.Event,
    *,
    batch: int = DEFAULT_BATCH,
    send: bool = True,
    on_tick: Callable[[], object] | None = None,
) -> None:
    """The long-running worker: advance (and send, unless `send` is off) until `stop` is set.

    `on_tick`: called after each tick and its sending (a heartbeat for supervision).
    """
    worker = Worker(sessions, clock, settings, batch_size=batch)
    audiences = AudienceRunner(sessions, clock, settings)
    months = MonthsAhead(sessions, clock)
    months()  # at start; then once a day, between ticks
    if not send:

        def look() -> None:
            months()
            audiences.tick()
            if on_tick is not None:
                on_tick()

        worker.run(stop, after_tick=look)
        return
    from cadenza.engine.dispatcher import Dispatcher

    dispatcher = Dispatcher(sessions, clock, settings)
    # Subscribers' webhooks go from their own thread: a slow receiver never holds up steps.
    # Stopped with the worker, whether it was told to stop or died (and is then restarted).
    done = threading.Event()
    deliveries = threading.Thread(
        target=_deliver_until_stopped, args=(sessions, clock, settings, done), daemon=True,
        name="subscriptions",
    )  # fmt: skip
    deliveries.start()

    def after_tick() -> None:
        months()
        audiences.tick()
        dispatcher.drain()
        if on_tick is not None:
            on_tick()

    try:
        worker.run(stop, after_tick=after_tick)
    finally:
        dispatcher.close()
        done.set()
        deliveries.join(timeout=5)  # a batch in flight finishes on its own (its leases hold)


def _deliver_until_stopped(
    sessions: sessionmaker[Session], clock: Clock, settings: Settings, done: threading.Event
) -> None:
    from cadenza.services.subscriptions import deliver_due

    while not done.is_set():
        try:
            deliver_due(sessions, clock, settings)
        except Exception:  # the database went away: say so, and try again
            log.exception("delivering webhooks to subscribers failed")
        done.wait(DELIVERY_INTERVAL)
