"""Writers of one SQLite file in one process take turns in arrival order.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and
retries (1 ms, then longer, up to 100 ms apart). A writer that commits and begins again at
once, as the embedded worker does batch after batch, nearly always wins the retry race, so
an API request could wait seconds for a lock that was free many times meanwhile. Inside a
process, writers queue here instead, first come first served; writers in other processes
(a CLI command beside `cadenza serve`) still meet SQLite's own busy handling.
"""

from __future__ import annotations

import threading
import time

# Past this, a writer stops waiting its turn and lets SQLite's busy timeout decide, so a
# writer that never finishes cannot stall the others forever.
PATIENCE = 30.0


class WriteGate:
    """A first-come, first-served lock held by a transaction, not a thread.

    A web request may begin its transaction on one thread and commit it on another (the
    framework runs a dependency's setup and teardown as separate calls), so the holder is
    whatever token the caller names, and any thread may release it.
    """

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._owner: object | None = None
        self._skipped: set[int] = set()  # tickets whose writers stopped waiting
        # When a writer last found the gate taken (monotonic seconds): a long writer (the
        # embedded worker) keeps its transactions short while others are writing too.
        self.contended_at = float("-inf")

    def acquire(self, holder: object) -> bool:
        """Wait for the holder's turn; False when PATIENCE ran out (then hold nothing)."""
        with self._turns:
            ticket = self._next_ticket
            self._next_ticket += 1
            deadline = time.monotonic() + PATIENCE
            if self._serving != ticket or self._owner is not None:
                self.contended_at = time.monotonic()
            while self._serving != ticket or self._owner is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._skip(ticket)
                    return False
                self._turns.wait(left)
            self._owner = holder
            return True

    def contended(self, within: float) -> bool:
        """True when a writer had to wait for its turn in the last `within` seconds."""
        return time.monotonic() - self.contended_at < within

    def release(self, holder: object) -> None:
        with self._turns:
            if self._owner is holder:
                self._owner = None
                self._serving += 1
                self._advance()

    def _skip(self, ticket: int) -> None:
        """Give up a ticket: the writers after it do not wait for it."""
        self._skipped.add(ticket)
        if self._owner is None:
            self._advance()

    def _advance(self) -> None:
        while self._serving in self._skipped:
            self._skipped.discard(self._serving)
            self._serving += 1
        self._turns.notify_all()
