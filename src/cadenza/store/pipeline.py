"""PostgreSQL statements sent without waiting for the server: a batch's writes, the next claim.

The worker's writes of a batch (states, history, outbox) need no answer: it can decide the
next batch on another connection while the server applies them (`Behind`). And the claim
of the batch after that can run on the server while the worker decides this one (`Ahead`).
The statements go out in psycopg's pipeline mode. `Behind.settle` reads the server's
answers and raises what failed; the whole transaction then rolled back and its rows are due
as before. `Ahead.rows` reads the claimed rows; `Ahead.cancel` rolls the claim back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cadenza.store.claims import Claimed, claimed_rows, send_claim


def _driver(session: Session) -> Any:
    """The driver's connection under the session's (psycopg: pipeline mode lives there)."""
    return session.connection().connection.driver_connection


class Behind:
    """One transaction whose last statements and COMMIT are on their way to the server."""

    def __init__(self, session: Session, size: int, write: Callable[[], object]) -> None:
        """Send what `write` executes, then COMMIT; `size`: the enrollments it advances.

        `write` may only execute statements whose results nobody reads (the bulk writes).
        """
        session.flush()  # nothing of the ORM may be left to write after the COMMIT
        self.session, self.size = session, size
        driver = _driver(session)
        self._stack = ExitStack()
        self._stack.enter_context(driver.pipeline())
        try:
            write()
            # The cursor stays open: pipeline mode hands it its answer when the batch settles.
            self._cursor = driver.cursor()
            self._cursor.execute("COMMIT")
        except BaseException:
            # Leave pipeline mode; what that raises is logged by psycopg, the first error wins.
            self._stack.__exit__(*sys.exc_info())
            raise

    def settle(self) -> None:
        """Wait for the server's answers; on failure roll back and raise the driver's error."""
        try:
            self._stack.close()  # leaving pipeline mode syncs: every answer is read here
        except BaseException:
            try:
                self.session.rollback()
            finally:
                self.session.close()
            raise
        self.session.commit()  # the driver is already out of the transaction: bookkeeping only
        self.session.close()


LOCK_TIMEOUT = "60s"  # far longer than any batch: only a worker waiting on itself reaches it
_BOUND_LOCK_WAITS = f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"


def bound_lock_waits(session: Session) -> None:
    """Let the session's transaction wait at most LOCK_TIMEOUT for any lock."""
    driver = _driver(session)
    driver.execute(_BOUND_LOCK_WAITS)


class Ahead:
    """A claim on its way to the server, in a transaction of its own, read when needed.

    Its rows are locked from the moment the server runs it. So the worker must not wait,
    on another connection, for a lock this claim may hold: the claim leaves out the contacts
    of the batch in hand, the only ones whose enrollments that batch's contact changes,
    events and hand-overs lock. Should some path still wait on it, its transaction gives up
    after LOCK_TIMEOUT (see `bound_lock_waits`), rolls back and is tried again, instead of
    waiting forever on its own worker.
    """

    def __init__(
        self, session: Session, now: datetime, limit: int, apart: Sequence[int] = ()
    ) -> None:
        """`apart`: the contacts of the batch in hand, whose enrollments its changes lock."""
        self.session = session
        driver = _driver(session)
        self._stack = ExitStack()
        self._stack.enter_context(driver.pipeline())
        try:
            # The batch claimed here is decided while the next one is claimed ahead.
            driver.execute(_BOUND_LOCK_WAITS)
            self._cursor = send_claim(session, now, limit, apart)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise

    def rows(self) -> list[Claimed]:
        """The claimed rows (waiting for them if need be); the session's transaction holds them."""
        try:
            rows = self._cursor.fetchall()
            self._cursor.close()
            self._stack.close()
        except BaseException:
            self._close()
            raise
        return claimed_rows(rows)

    def cancel(self) -> None:
        """Roll the claim back: its rows are free for any worker again."""
        try:
            self._stack.close()
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
