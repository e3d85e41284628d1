"""What API handlers are given: sessions, the clock, the settings, the calling API key and
the user it acts as."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.errors import Forbidden
from cadenza.services import users
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.settings import Settings
from cadenza.store.models import ApiKey, User

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


def _read_session(request: Request) -> Iterator[Session]:
    with _factory(request)() as session:
        yield session


def _write_session(request: Request) -> Iterator[Session]:
    """A session that takes SQLite's write lock at its first statement, not when made.

    A request's dependencies (the key, the user) and its parsing run before the handler
    touches the database, each a hop through the thread pool; holding the one write lock
    across them made every other writer wait for them too. Commits when the handler returns,
    rolls back when it raises (as `writing()`).
    """
    state = request.app.state
    bind = getattr(state, "immediate_engine", None)
    if bind is None:  # BEGIN IMMEDIATE on SQLite (store/db.py), an ordinary BEGIN elsewhere
        bind = state.immediate_engine = state.engine.execution_options(sqlite_begin="IMMEDIATE")
    with _factory(request)(bind=bind) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def acting(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[Settings, Depends(_settings)],
) -> Viewer:
    """The user a key acts as, with their rights: 401 without a valid key, 403 for a key of
    no user or a disabled one.

    A key made without `--user` (before keys belonged to users) is refused rather than
    guessed to be an admin: give it a user with `cadenza apikeys create NAME --user EMAIL`.
    The key, its user and their rights are read in one session and one hop through the
    thread pool: every API request pays for them.
    """
    with _factory(request)() as session:
        key = _key(session, credentials)
        user = session.get(User, key.user_id) if key.user_id is not None else None
        if user is None:
            raise Forbidden(
                f"the API key {key.name!r} belongs to no user, so it has no rights: "
                "create one with `cadenza apikeys create NAME --user EMAIL`"
            )
        if not user.active:
            raise Forbidden(f"the API key's user {user.email} is deactivated")
        return access.viewer_of(session=session, user=user, settings=settings)


def _key(session: Session, credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
    """The API key the request bears: 401 without one or for one that is not valid."""
    if credentials is None:
        raise _unauthorized("this endpoint needs an API key: Authorization: Bearer <key>")
    key = users.authenticate(session=session, token=credentials.credentials)
    if key is None:
        raise _unauthorized("the API key is not valid (revoked, mistyped or not a key)")
    return key


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SessionDep = Annotated[Session, Depends(_read_session)]
# scope="function": committed before the response is sent, so a 2xx means it is stored.
WriteSessionDep = Annotated[Session, Depends(_write_session, scope="function")]
ClockDep = Annotated[Clock, Depends(_clock)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ViewerDep = Annotated[Viewer, Depends(acting)]
