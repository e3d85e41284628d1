"""How an API route runs a plain (`def`) handler: in one hop through the thread pool that also
ends the request's session.

FastAPI runs a plain handler in the thread pool, validates its answer in a second hop and ends
a generator dependency (the session) in a third. Under load each hop waits for the interpreter
lock behind every busy thread. Worse, a session left open from one hop to the next holds a
pooled connection and, when it writes on SQLite, the write lock: with every thread of the pool
taken by requests queued for that lock, the holder waited for a thread to commit, and nothing
moved until the gate's patience ran out (80 clients stalled 30 s).

An `ApiRoute` turns a plain handler into a coroutine making one call on the pool: the handler,
then the commit of its write session (the rollback when it raised), and the end of its read
session's transaction, so its connection is back in the pool before the hop ends. FastAPI then
validates and serializes the answer on the event loop, as it does for an `async` handler.
The hops take turns on a few threads (api/threads.py).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from cadenza.api.deps import finish
from cadenza.api.threads import api_threads


class ApiRoute(APIRoute):
    """An APIRoute whose plain handler runs, with the end of its session, in one hop."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_one_hop(endpoint)
        super().__init__(path, endpoint, **options)


def in_one_hop(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` as a coroutine running it and ending its sessions in one thread-pool call.

    FastAPI reads the parameters, the answer's type and the docstring through the wrapper.
    """

    @functools.wraps(handler)
    async def run(**values: Any) -> Any:
        return await to_thread.run_sync(_answer, handler, values, limiter=api_threads())

    return run


def _answer(handler: Callable[..., Any], values: dict[str, Any]) -> Any:
    sessions = [value for value in values.values() if isinstance(value, Session)]
    try:
        answer = handler(**values)
    except BaseException:
        for session in sessions:
            finish(session, succeeded=False)
        raise
    for session in sessions:
        finish(session, succeeded=True)
    return answer
