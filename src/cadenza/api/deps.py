"""What API handlers are given: sessions, the clock, the settings, the calling API key and
the user it acts as."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cadenza.api.threads import api_threads
from cadenza.clock import Clock
from cadenza.core.access import Person
from cadenza.errors import Forbidden
from cadenza.services import users
from cadenza.services.users.viewers import Viewer
from cadenza.settings import Settings

_bearer = HTTPBearer(
    auto_error=False, description="An API key: `cadenza apikeys create NAME --user EMAIL`"
)


# The dependencies that only read the app's state are `async`: FastAPI runs a plain function
# in the thread pool, and each such hop (a thread's wake-up, the interpreter lock handed over
# and back) cost more than the lookup, many times per request.


async def _sessions(request: Request) -> sessionmaker[Session]:
    return _factory(request)


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


# A session is made on the event loop: it opens nothing until its first statement. An
# `ApiRoute` (api/routes.py) ends it in the handler's own hop (`finish`); what is left for
# the dependency to do afterwards touches no connection, so it runs on the loop too. A
# session some other handler left in a transaction is ended in the thread pool, as before.

_COMMITS = "cadenza_commits"  # on a write session's `info`: commit it when its handler succeeds


async def _read_session(request: Request) -> AsyncIterator[Session]:
    session = _factory(request)()
    try:
        yield session
    finally:
        await _close(session)


async def _write_session(request: Request) -> AsyncIterator[Session]:
    """A session that takes SQLite's write lock at its first statement, not when made.

    A request's dependencies (the key, the user) and its parsing run before the handler
    touches the database; holding the one write lock across them made every other writer
    wait for them too. Commits when the handler returns, rolls back when it raises (as
    `writing()`).
    """
    state = request.app.state
    bind = getattr(state, "immediate_engine", None)
    if bind is None:  # BEGIN IMMEDIATE on SQLite (store/db.py), an ordinary BEGIN elsewhere
        bind = state.immediate_engine = state.engine.execution_options(sqlite_begin="IMMEDIATE")
    session = _factory(request)(bind=bind)
    session.info[_COMMITS] = True
    succeeded = False
    try:
        yield session
        succeeded = True
    finally:
        try:
            if session.in_transaction():
                await run_in_threadpool(finish, session, succeeded=succeeded)
        finally:
            await _close(session)


def finish(session: Session, *, succeeded: bool) -> None:
    """End a request's transaction: commit a write session whose handler succeeded, else roll
    back (a read session's too); its connection goes back to the pool either way."""
    if succeeded and session.info.get(_COMMITS):
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise
    else:
        session.rollback()


async def _close(session: Session) -> None:
    if session.in_transaction():  # a connection to give back: a rollback to send
        await run_in_threadpool(session.close)
    else:
        session.close()


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def acting(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[Settings, Depends(_settings)],
) -> Viewer:
    """The user a key acts as, with their rights: 401 without a valid key, 403 for a key of
    no user or a disabled one.

    A key made without `--user` (before keys belonged to users) is refused rather than
    guessed to be an admin: give it a user with `cadenza apikeys create NAME --user EMAIL`.
    Every API request pays for this: the key, its user and their groupmates are read in one
    statement on a connection of the pool (no session, no ORM), in one hop through the
    thread pool, taking its turn with the handlers (api/threads.py). Read on every request,
    never cached: a revoked key, a deactivated user or a changed role takes effect at the
    next request, whichever process changed it.
    """
    if credentials is None:
        raise _unauthorized("this endpoint needs an API key: Authorization: Bearer <key>")
    found = await to_thread.run_sync(
        _read_key, _key_reader(request), credentials.credentials, limiter=api_threads()
    )
    if found is None:
        raise _unauthorized("the API key is not valid (revoked, mistyped or not a key)")
    if found.user_id is None:
        raise Forbidden(
            f"the API key {found.key_name!r} belongs to no user, so it has no rights: "
            "create one with `cadenza apikeys create NAME --user EMAIL`"
        )
    if not found.active:
        raise Forbidden(f"the API key's user {found.email} is deactivated")
    person = Person(
        found.user_id,
        found.role,
        found.groupmates,
        agents_create=settings.agents_create_sequences,
    )
    return Viewer(person, found.email, found.email)


def _read_key(engine: Engine, token: str) -> users.Bearer | None:
    with engine.connect() as connection:
        return users.bearer(connection=connection, token=token)


def _key_reader(request: Request) -> Engine:
    """The engine the key is read with: on PostgreSQL in autocommit. Its one statement needs
    no transaction, and a transaction cost two more round trips (BEGIN, and the ROLLBACK as
    the connection went back to the pool), each a wait for the interpreter lock under load."""
    state = request.app.state
    reader: Engine | None = getattr(state, "key_reader", None)
    if reader is None:
        engine: Engine = state.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        reader = state.key_reader = engine
    return reader


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SessionDep = Annotated[Session, Depends(_read_session)]
# scope="function": committed before the response is sent, so a 2xx means it is stored.
WriteSessionDep = Annotated[Session, Depends(_write_session, scope="function")]
ClockDep = Annotated[Clock, Depends(_clock)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ViewerDep = Annotated[Viewer, Depends(acting)]
