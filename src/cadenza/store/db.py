"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.store import fanout  # noqa: F401  (its flush hook keeps the SQLite trigger)

# Engines are made without the ORM (a listing reads through Core alone): see engines.py.
from cadenza.store.engines import is_sqlite as is_sqlite
from cadenza.store.engines import make_engine as make_engine
from cadenza.store.engines import write_gate as write_gate


def is_database_error(exc: BaseException) -> bool:
    """True for an error of the database or its driver (a batch retries; a step does not fail)."""
    import sqlite3

    import psycopg

    return isinstance(exc, SQLAlchemyError | sqlite3.Error | psycopg.Error)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(factory: sessionmaker[Session], bind: Connection | None = None) -> Iterator[Session]:
    """A session whose transaction takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE).

    Taking the lock up front avoids the deadlock of two readers upgrading to writers; on
    PostgreSQL it is an ordinary transaction. Commits on success, rolls back on error.
    `bind`: a connection the caller holds (and keeps) instead of one from the pool.
    """
    with factory(bind=bind) if bind is not None else factory() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
