"""Is the database reachable and its schema at the head revision of the migrations?"""

from __future__ import annotations

from sqlalchemy import Engine, text


def readiness_problem(engine: Engine) -> str | None:
    """None when ready; else why not, in words an operator acts on."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from cadenza.store.migrate import alembic_config

    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # any driver's error: unreachable, refused, wrong password
        return f"database unreachable: {str(exc).strip().splitlines()[0][:200]}"
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return f"schema at {have}, code expects {', '.join(sorted(heads))}: run `cadenza init`"
    return None
