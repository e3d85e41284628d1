"""A PostgreSQL transaction's last writes and COMMIT, sent without waiting for the server.

The worker's writes of a batch (states, history, outbox) need no answer: it can claim and
decide the next batch on a second connection while the server applies them. The statements
go out in psycopg's pipeline mode; `settle` reads the server's answers, and raises what
failed, in which case the whole transaction rolled back and its rows are due as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from sqlalchemy.orm import Session


class Behind:
    """One transaction whose last statements and COMMIT are on their way to the server."""

    def __init__(self, session: Session, size: int, write: Callable[[], object]) -> None:
        """Send what `write` executes, then COMMIT; `size`: the enrollments it advances.

        `write` may only execute statements whose results nobody reads (the bulk writes).
        """
        session.flush()  # nothing of the ORM may be left to write after the COMMIT
        self.session, self.size = session, size
        driver: Any = session.connection().connection.driver_connection
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
