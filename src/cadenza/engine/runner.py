"""Running the engine: drain once (`worker --once`) or loop until told to stop."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.engine.audiences import AudienceRunner
from cadenza.engine.worker import DEFAULT_BATCH, Worker
from cadenza.services.reports import counting
from cadenza.settings import Settings
from cadenza.store import partitions, report_marks
from cadenza.store.db import writing

log = logging.getLogger(__name__)
DELIVERY_INTERVAL = 1.0  # seconds between looks for due webhook deliveries
COUNTING_INTERVAL = 1.0  # seconds between counts of new history for the reports
# Events per counting transaction: its locks stay short. On SQLite that transaction holds
# the one write lock, which the API's requests wait for: a tenth of a second at most.
COUNTING_WINDOW = {"sqlite": 1000, "postgresql": 5000}
COUNTING_BUDGET = 0.2  # seconds a worker spends counting per look, at most
MONTHS_INTERVAL = 86400.0  # seconds between makings of history's months ahead
MONTHS_RETRY = 3600.0  # seconds before another try when making them failed


class ReportCounting:
    """Counts the history written since the last look for the reports, about once a second.

    Each window of events is its own short transaction; a look stops after COUNTING_BUDGET
    so that steps are not held up, and continues a second later. When another worker is
    counting, this one lets it (no two count at once).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._next = 0.0

    def tick(self) -> None:
        started = time.monotonic()
        if started < self._next:
            return
        self._next = started + COUNTING_INTERVAL
        try:
            while time.monotonic() - started < COUNTING_BUDGET:
                if not self.window():
                    return
        except OperationalError:  # the database went away, or SQLite stayed locked
            log.exception("counting history for the reports failed")

    def window(self) -> bool:
        """Count one window; whether more is waiting."""
        with self.sessions() as session:
            if not report_marks.behind(session):
                return False
        with writing(self.sessions) as session:
            window = COUNTING_WINDOW[session.get_bind().dialect.name]
            counted = counting.catch_up(session, wait=False, complete=False, limit=window)
            return counted is not None and report_marks.behind(session)

    def finish(self) -> None:
        """Count everything written so far (`worker --once`, before it exits)."""
        with writing(self.sessions) as session:
            counting.catch_up(session)


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
        ReportCounting(sessions).finish()
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
    ReportCounting(sessions).finish()
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
    reports = ReportCounting(sessions)
    months = MonthsAhead(sessions, clock)
    months()  # at start; then once a day, between ticks
    if not send:

        def look() -> None:
            months()
            audiences.tick()
            reports.tick()
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
        reports.tick()
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
