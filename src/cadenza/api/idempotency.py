"""`Idempotency-Key` on the API's creating writes: a retried request gets the first answer.

A route gives `once` the request's fingerprint and a function doing the write (in its own
transaction, committed when it returns) that answers (status, JSON body, Location); the
answer is kept under the caller's key, and a retry with the same key and request gets it
back, marked `Idempotency-Replayed: true`, without writing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.services import idempotency
from cadenza.services.idempotency import Answer
from cadenza.services.users.access import Viewer

KeyHeader = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        max_length=200,
        description="Send the same key again to retry safely: the first answer comes back",
    ),
]
Write = Callable[[], tuple[int, dict[str, Any], str | None]]


def once(
    request: Request,
    *,
    key: str | None,
    viewer: Viewer,
    sessions: sessionmaker[Session],
    clock: Clock,
    parts: tuple[bytes | str, ...],
    write: Write,
) -> JSONResponse:
    """Run `write` once per key; its answer, the first time and on every retry."""
    if key is None:
        return _response(Answer(*write()))
    scope = f"user:{viewer.user_id} {request.method} {request.url.path}"[:100]
    print_ = idempotency.fingerprint(*parts)
    kept = idempotency.reserve(sessions, scope=scope, key=key, print_=print_, now=clock.now())
    if kept is not None:
        return _response(kept, replayed=True)
    try:
        answer = Answer(*write())
    except BaseException:
        idempotency.release(sessions, scope=scope, key=key)
        raise
    idempotency.done(sessions, scope=scope, key=key, answer=answer)
    return _response(answer)


def _response(answer: Answer, *, replayed: bool = False) -> JSONResponse:
    headers = {"Location": answer.location} if answer.location else {}
    if replayed:
        headers["Idempotency-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
