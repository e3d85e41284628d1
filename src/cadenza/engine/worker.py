"""The worker: claim due enrollments, decide each with the machine, commit, repeat."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.metrics import BATCH_SECONDS, CLAIM_SECONDS, STEPS, WORKER_ERRORS
from cadenza.services.enrollments import decide_batch
from cadenza.services.events import propagate, written_later
from cadenza.settings import Settings
from cadenza.store.bulk import cyclic_gc_paused
from cadenza.store.claims import claim_due
from cadenza.store.db import write_gate
from cadenza.store.pipeline import Ahead, Behind, bound_lock_waits
from cadenza.store.wakeup import Wakeup

log = logging.getLogger(__name__)

# Enrollments per transaction: big enough that per-batch costs (round trips, commit) fade,
# small enough that a batch holds its locks for tens of milliseconds.
DEFAULT_BATCH = 500
# While other writers of the same SQLite file (API requests) had to queue for the write lock
# within the last second, a batch is sized to take about this much of the worker's time, so a
# request waits for a short transaction, not for 500 enrollments; alone, batches are full.
TRANSACTION_BUDGET = 0.01  # seconds of the worker thread's CPU time
SMALLEST_BATCH = 20
CONTENDED_WITHIN = 1.0


class Worker:
    """Advances due enrollments in batches, each batch one transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        *,
        batch_size: int = DEFAULT_BATCH,
        name: str | None = None,
    ) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self.batch_size = batch_size
        self._size = batch_size  # of the batch in hand: smaller while the write lock is sought
        self._per_row = 0.0  # the worker's CPU seconds per enrollment, recent batches
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._connections: list[Connection] = []
        self._turn = 0
        self._behind: dict[int, Behind] = {}  # by connection: batches not yet settled
        self._ahead: dict[int, Ahead] = {}  # by connection: claims sent, not yet read
        self._lost = 0  # enrollments of batches that rolled back after they were sent
        engine = sessions.kw.get("bind")
        self._gate = write_gate(engine)
        driver = engine.dialect.loaded_dbapi if engine is not None else None
        # Raw-cursor statements raise the driver's own errors, not SQLAlchemy's wrappers.
        self._retryable: tuple[type[Exception], ...] = (
            (OperationalError, driver.OperationalError) if driver else (OperationalError,)
        )

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the worker's connections for the ticks inside.

        Each tick then skips the pool checkout and its liveness ping, which on PostgreSQL
        were 0.1-0.27 ms of a 0.7-0.9 ms empty tick. A lost connection is invalidated by
        SQLAlchemy and reconnects on its next use. On PostgreSQL the worker holds three and
        takes turns: while it decides a batch on one, the previous batch's writes and COMMIT
        run on the server on another, and the next batch's claim on the third.
        """
        engine = self.sessions.kw.get("bind")
        if engine is None or self._connections:
            yield
            return
        count = 3 if engine.dialect.name == "postgresql" else 1
        self._connections = [engine.connect() for _ in range(count)]
        try:
            yield
        finally:
            try:
                self._settle_all()
            finally:
                connections, self._connections = self._connections, []
                for connection in connections:
                    connection.close()

    def tick(self, now: datetime | None = None) -> int:
        """Claim one batch, advance it and commit; the number of enrollments advanced."""
        self._settle_all()
        return self._tick(now, behind=False)

    def _tick(self, now: datetime | None, *, behind: bool) -> int:
        """One batch; with `behind`, its writes may still be on their way when this returns."""
        now = now or self.clock.now()
        self._size = self._next_size()
        failure: Exception | None = None
        for attempt in range(5):
            connection = self._take_turn()
            try:
                # A retry claims nothing ahead: if that claim was in the way, it stays out.
                # A batch makes many small objects and no cycles: the collector's passes over
                # them cost a quarter of its time, so it waits until the batch is done.
                started = time.thread_time()
                with cyclic_gc_paused(), BATCH_SECONDS.time():
                    done = self._batch(connection, now, behind=behind, ahead=attempt == 0)
                if done:
                    per_row = (time.thread_time() - started) / done
                    self._per_row = per_row if not self._per_row else (self._per_row + per_row) / 2
                STEPS.inc(done)
                return done
            except self._retryable as exc:
                WORKER_ERRORS.inc()
                # A deadlock between two workers touching one contact, a busy SQLite file or
                # a lost connection (SQLAlchemy then invalidates it, and its next use
                # reconnects): the transaction rolled back whole, so trying again is safe.
                log.warning("batch rolled back, retrying", extra={"error": str(exc)[:200]})
                failure = exc
                time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"a batch failed five times in a row: {failure}") from failure

    def _next_size(self) -> int:
        """Full batches, unless other writers of this SQLite file queued for it lately."""
        if self._gate is None or not self._per_row or not self._gate.contended(CONTENDED_WITHIN):
            return self.batch_size
        fits = int(TRANSACTION_BUDGET / self._per_row)
        return max(min(SMALLEST_BATCH, self.batch_size), min(self.batch_size, fits))

    def _batch(
        self, connection: Connection | None, now: datetime, *, behind: bool, ahead: bool = True
    ) -> int:
        """Claim, decide and write a batch; `behind`: its writes may settle later, and the next
        claim may be sent ahead (when `ahead` allows)."""
        claimed = self._ahead.pop(self._turn, None)
        if claimed is not None:
            session = claimed.session
        else:
            session = self.sessions(bind=connection) if connection is not None else self.sessions()
        try:
            if claimed is not None:
                rows = claimed.rows()
            else:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                with CLAIM_SECONDS.time():
                    rows = claim_due(session, now, self._size)
            if ahead and behind and len(rows) == self._size and len(self._connections) > 2:
                if claimed is None:  # a batch claimed ahead bounds its lock waits already
                    bound_lock_waits(session)
                # A full batch: more is likely due. The claim leaves this batch's contacts
                # out, whose other enrollments its contact changes may lock.
                self._claim_ahead(now, [row.contact_id for row in rows])
            applier = decide_batch(session, rows, now, self.settings) if rows else None
            if applier is not None and behind and len(self._connections) > 1:
                if applier.writes_only:
                    self._behind[self._turn] = Behind(session, len(rows), applier.flush)
                    return len(rows)
                # Contact changes read what they change first; then their writes and the
                # decisions' go on their way while the next batch is decided. Hand-overs
                # and triggers read as they write: made here, only the COMMIT left behind.
                write = written_later(session, applier, self.settings)
                if write is None:
                    propagate(session, applier.flush(), now, self.settings)
                    write = _nothing
                self._behind[self._turn] = Behind(session, len(rows), write)
                return len(rows)
            if applier is not None:
                self._cancel_ahead()  # no claim may hold what these changes wait for
                propagate(session, applier.flush(), now, self.settings)
            session.commit()
        except BaseException:
            session.rollback()
            session.close()
            self._cancel_ahead()  # a retry must not find rows held by this worker
            raise
        session.close()
        return len(rows)

    def _claim_ahead(self, now: datetime, apart: list[int]) -> None:
        """Send the next turn's claim (its connection's previous batch settled first)."""
        turn = (self._turn + 1) % len(self._connections)
        self._settle(turn)
        session = self.sessions(bind=self._connections[turn])
        self._ahead[turn] = Ahead(session, now, self.batch_size, apart)

    def _cancel_ahead(self) -> None:
        for turn in list(self._ahead):
            try:
                self._ahead.pop(turn).cancel()
            except self._retryable as exc:  # the claim is gone with its transaction anyway
                log.warning("claim sent ahead failed", extra={"error": str(exc)[:200]})

    def _take_turn(self) -> Connection | None:
        """The next held connection (its previous batch settled first), or None for the pool."""
        if not self._connections:
            return None
        self._turn = (self._turn + 1) % len(self._connections)
        self._settle(self._turn)
        return self._connections[self._turn]

    def _settle(self, turn: int) -> None:
        """Wait for the batch sent on that connection (counting its enrollments if it failed)."""
        behind = self._behind.pop(turn, None)
        if behind is None:
            return
        try:
            behind.settle()
        except self._retryable as exc:
            # Rolled back whole: its enrollments are due as before and will be claimed again.
            log.warning("batch rolled back, to be claimed again", extra={"error": str(exc)[:200]})
            self._lost += behind.size

    def _settle_all(self) -> None:
        self._cancel_ahead()
        for turn in list(self._behind):
            self._settle(turn)

    def drain(self, now: datetime | None = None) -> int:
        """Advance everything due at `now` (or the clock's now); the total advanced."""
        total, lost = 0, self._lost
        with self.holding():
            while True:
                # A claim made while a batch is still being written skips that batch's rows:
                # if one of them is due again, only a claim after it settled sees it.
                overlapped = bool(self._behind or self._ahead)
                done = self._tick(now, behind=True)
                total += done
                if done < self._size:
                    self._settle_all()
                    if not overlapped:
                        return total - (self._lost - lost)

    def run(
        self,
        stop: threading.Event,
        idle: float = 0.2,
        after_tick: Callable[[], object] | None = None,
    ) -> None:
        """Work until `stop` is set; when nothing is due, wait `idle` seconds or until a step
        is made due (PostgreSQL's NOTIFY). A stop lets the batch in hand commit first."""
        log.info("worker started", extra={"worker": self.name})
        wakeup = Wakeup(self.sessions.kw.get("bind"))
        with self.holding():
            try:
                self._loop(stop, idle, after_tick, wakeup)
            finally:
                wakeup.close()
        log.info("worker stopped", extra={"worker": self.name})

    def _loop(
        self,
        stop: threading.Event,
        idle: float,
        after_tick: Callable[[], object] | None,
        wakeup: Wakeup,
    ) -> None:
        while not stop.is_set():
            done = self._tick(None, behind=True)
            caught_up = done < self._size
            if caught_up:
                self._settle_all()  # so that `after_tick` sees everything committed
            if after_tick:
                after_tick()
            if caught_up:
                wakeup.wait(stop, idle)


def _nothing() -> None:
    """A batch whose statements were all made already: only its COMMIT goes behind."""
