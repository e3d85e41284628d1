"""Many writes at once through the API: each is answered, none waits for a stalled one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cadenza.server import create_app
from cadenza.services.users import add_user, create_key
from cadenza.settings import Settings
from cadenza.store.models import BlockedDomain
from tests.conftest import Database
from tests.engine_helpers import at, write
from tests.integration.api_client import T0, USER

# More than the thread pool's 40 threads: before, a write session waited for a free thread
# to commit while holding SQLite's write lock (or, on PostgreSQL, a pooled connection), and
# every thread was taken by a request waiting for that lock or connection: all of them
# stalled until a 30-second patience ran out.
WRITERS = 60


def test_more_concurrent_writes_than_threads_are_all_answered_without_a_stall(
    db: Database, tmp_path: Path
) -> None:
    with write(db) as session:
        add_user(session=session, email=USER, name="Ana", role="admin", now=at(T0))
        _, token = create_key(session=session, name="tests", user_email=USER, now=at(T0))
    settings = Settings(
        environment="test", database_url=db.url, sms_sink_path=str(tmp_path / "sms.jsonl")
    )
    app = create_app(settings)

    async def block_all() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers, timeout=120
        ) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/api/v1/blocked-domains", json={"domain": f"d{n}.example"})
                    for n in range(WRITERS)
                )
            )
        return [answer.status_code for answer in answers]

    started = time.monotonic()
    try:
        statuses = asyncio.run(block_all())
    finally:
        app.state.engine.dispose()
    assert statuses == [201] * WRITERS
    assert time.monotonic() - started < 20  # a stall lasted 30 s at least
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BlockedDomain)) == WRITERS
