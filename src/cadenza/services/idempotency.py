"""Retried writes: a request sent again with the same `Idempotency-Key` gets the first answer.

The key is reserved in its own transaction before the write runs, so two copies of a request
arriving together cannot both run it: the second is told the first is still running. Once
the write is done its answer is kept; a retry gets it back without writing anything. A key
sent again with a different request is refused: it would hide a mistake. A reservation whose
request never finished (the process died) is taken over after `STALE`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.errors import Conflict, ValidationFailed
from cadenza.store.db import writing
from cadenza.store.models import IdempotencyKey

HEADER = "Idempotency-Key"
STALE = timedelta(minutes=10)
KEEP = timedelta(days=1)  # how long an answer is kept for retries
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True, slots=True)
class Answer:
    """The first answer to a request, given again to its retries."""

    status: int
    body: dict[str, Any]
    location: str | None


def fingerprint(*parts: bytes | str) -> str:
    """A digest of what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def reserve(
    sessions: sessionmaker[Session], *, scope: str, key: str, print_: str, now: datetime
) -> Answer | None:
    """The first answer when this request was already done; None once the key is ours."""
    if not _KEY.fullmatch(key):
        raise ValidationFailed(f"{HEADER}: 1 to 200 visible ASCII characters, not {key!r}")
    with writing(sessions) as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP))
        found = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if found is None:
            try:
                with session.begin_nested():
                    session.add(_reservation(scope, key, print_, now))
            except IntegrityError:  # the same request arrived at the same moment
                raise Conflict(f"a request with {HEADER} {key!r} is still running") from None
            return None
        if found.fingerprint != print_:
            raise ValidationFailed(f"{HEADER} {key!r} was used for a different request")
        if found.state == "done":
            assert found.response_status is not None and found.response_body is not None
            return Answer(found.response_status, found.response_body, found.location)
        if found.created_at > now - STALE:
            raise Conflict(f"a request with {HEADER} {key!r} is still running")
        found.created_at = now  # its request died: this one takes the key over
        return None


def done(sessions: sessionmaker[Session], *, scope: str, key: str, answer: Answer) -> None:
    """Keep the answer of a request that did its write."""
    with writing(sessions) as session:
        found = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if found is not None:
            found.state = "done"
            found.response_status = answer.status
            found.response_body = answer.body
            found.location = answer.location


def release(sessions: sessionmaker[Session], *, scope: str, key: str) -> None:
    """Give the key back after a request that failed: it wrote nothing, a retry may run."""
    with writing(sessions) as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "running",
            )
        )


def _reservation(scope: str, key: str, print_: str, now: datetime) -> IdempotencyKey:
    return IdempotencyKey(scope=scope, key=key, fingerprint=print_, state="running",
                          created_at=now)  # fmt: skip
