"""How many threads API work runs on at once: the key check and the handlers' hops.

With one thread per request in flight (anyio's pool allows 40), 20 clients' requests shared
the interpreter lock all at once, so each took as long as all of them together: one request
in a hundred waited more than twice the median (`cadenza bench api`). Here they take turns,
first come first served: a request waits for a thread, then runs with few others.
"""

from __future__ import annotations

from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

# Enough to keep the database busy while one thread runs Python (the others wait on a round
# trip, an fsync or SQLite's write lock); few enough that a request is not slowed by every
# other. A handler waiting long on the network (a webhook test) holds one meanwhile.
API_THREADS = 8
_limiter: RunVar[CapacityLimiter] = RunVar("cadenza_api_threads")


def api_threads() -> CapacityLimiter:
    """The running event loop's limiter of API work (made at its first use there)."""
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(API_THREADS)
        _limiter.set(limiter)
        return limiter
