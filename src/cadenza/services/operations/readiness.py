"""Is the database reachable and its schema at the head revision of the migrations?"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine, text


def readiness_problem(engine: Engine) -> str | None:
    """None when ready; else why not, in words an operator acts on."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # any driver's error: unreachable, refused, wrong password
        return f"database unreachable: {str(exc).strip().splitlines()[0][:200]}"
    heads = _code_heads()
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return f"schema at {have}, code expects {', '.join(sorted(heads))}: run `cadenza init`"
    return None


@cache
def _code_heads() -> frozenset[str]:
    """The head revisions this process's code expects, read from its migration scripts once
    (about 20 ms of the processor): a health check every few seconds would pay it each time,
    and the scripts a running process was started with do not change under it."""
    from alembic.script import ScriptDirectory

    from cadenza.store.migrate import MIGRATIONS

    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())
