"""A consistent copy of a live SQLite database (SQLite's online backup API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine


def backup_sqlite(engine: Engine, target: Path) -> int:
    """Copy the database behind `engine` to `target` while it is in use; the pages copied.

    The backup API copies page by page under SQLite's own locking, WAL included: the copy
    is the database at one instant, whatever the server and worker write meanwhile.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise ValueError("only a SQLite database file can be backed up this way")
    if target.resolve() == Path(database).resolve():
        raise ValueError("the backup cannot overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    pages = 0

    def progress(_status: int, remaining: int, total: int) -> None:
        nonlocal pages
        pages = total - remaining

    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        source.backup(copy, pages=1024, progress=progress)
    source.close()
    copy.close()
    return pages
