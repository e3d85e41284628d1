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
        self._lock = threading.Lock()
        # Each waiting writer's own wake-up, by ticket: a turn that passes wakes the one
        # writer whose turn it is. Waking them all made each of them take the interpreter
        # lock only to wait again, several times per write while requests queue.
        self._waiting: dict[int, threading.Condition] = {}
        self._next_ticket = 0
        self._serving = 0
        self._owner: object | None = None
        self._skipped: set[int] = set()  # tickets whose writers stopped waiting
        # When a writer last found the gate taken (monotonic seconds): a long writer (the
        # embedded worker) keeps its transactions short while others are writing too.
        self.contended_at = float("-inf")

    def acquire(self, holder: object) -> bool:
        """Wait for the holder's turn; False when PATIENCE ran out (then hold nothing)."""
        with self._lock:
            ticket = self._next_ticket
            self._next_ticket += 1
            if self._serving != ticket or self._owner is not None:
                self.contended_at = time.monotonic()
                if not self._wait(ticket, time.monotonic() + PATIENCE):
                    return False
            self._owner = holder
            return True

    def _wait(self, ticket: int, deadline: float) -> bool:
        """Wait (holding the lock) until it is `ticket`'s turn; False past the deadline."""
        turn = self._waiting[ticket] = threading.Condition(self._lock)
        try:
            while self._serving != ticket or self._owner is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._skip(ticket)
                    return False
                turn.wait(left)
            return True
        finally:
            del self._waiting[ticket]

    def contended(self, within: float) -> bool:
        """True when a writer had to wait for its turn in the last `within` seconds."""
        return time.monotonic() - self.contended_at < within

    def release(self, holder: object) -> None:
        with self._lock:
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
        turn = self._waiting.get(self._serving)
        if turn is not None:
            turn.notify()
