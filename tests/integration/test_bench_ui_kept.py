"""`cadenza bench ui` keeps its database between runs; one stamped by other code is remade."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

from cadenza.benchmarks import ui_data
from cadenza.store import migrate
from cadenza.store.db import make_engine


def test_a_kept_database_of_an_unknown_schema_is_made_anew(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:  # as a branch's migration leaves it
        conn.execute(text("UPDATE alembic_version SET version_num = '0999_elsewhere'"))
        conn.execute(text("CREATE TABLE left_behind (id integer)"))
    engine.dispose()
    said: list[str] = []
    assert ui_data.ready(url, ui_data.Scale(10, 5, 10), said.append) is False
    assert any("0999_elsewhere" in line and "anew" in line for line in said), said
    engine = make_engine(url)
    head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert "left_behind" not in tables
    assert version == head
