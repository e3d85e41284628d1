"""The Typer application, the shared context of commands, and output helpers."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import typer

from cadenza.clock import Clock, clock_from_env, parse_instant
from cadenza.errors import CadenzaError, ConfigurationError, DefinitionError, ValidationFailed
from cadenza.limits import MAX_ID as MAX_ID

# A command imports what it uses when it runs (see cadenza/cli/__init__.py): SQLAlchemy,
# rich, the settings and the services are named here for the type checker only.
if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from cadenza.services.users.access import Viewer
    from cadenza.settings import Settings

# `--as EMAIL` (any command) is lifted into this variable, as `--now` is into CADENZA_NOW.
AS_VARIABLE = "CADENZA_AS"

app = typer.Typer(
    name="cadenza",
    help=(
        "Cadenza: a sales-engagement sequence engine. Every command takes --now ISO, and "
        "--as EMAIL to name the user history records as acting (the CLI acts as an admin)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _Console:
    """A rich Console made when first used: a listing printing JSON never imports rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# Tables piped to a file or another program get room to breathe instead of 80 columns.
out = cast("Console", _Console(width=None if sys.stdout.isatty() else 160))
# Messages to stderr are not wrapped: a problem list is read by people and by scripts.
err = cast("Console", _Console(stderr=True, soft_wrap=True))

P = ParamSpec("P")
R = TypeVar("R")


class BadValue(Exception):
    """An option's value cannot be read: one line on stderr and exit 2 (usage)."""


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Cadenza's errors into a message on stderr and exit code 1 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BadValue as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except DefinitionError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            raise typer.Exit(1) from None
        except CadenzaError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except Exception as exc:
            message = database_problem(exc)
            if message is None:
                raise  # a defect, not the user's database: the traceback is for us
            err.print(f"error: {message}", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


# SQLite's and PostgreSQL's words for a table or column that is not there (yet).
_MISSING_SCHEMA = re.compile(r'no such (table|column)|(relation|column) ".*" does not exist')


def database_problem(exc: Exception) -> str | None:
    """What a person can do about a database error: unreachable, not initialised, a value."""
    driver = sys.modules.get("psycopg")  # bulk writes reach it directly, unwrapped
    if driver is not None and isinstance(exc, driver.DataError):
        return f"the database refused a value ({_first_line(exc)}); nothing was changed"
    if "sqlalchemy" not in sys.modules:
        return None  # no database was touched, so this is no database's error
    from sqlalchemy.exc import DataError, DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    reason = _first_line(exc.orig if exc.orig is not None else exc)
    where = _database_url()
    if isinstance(exc, DataError):
        return f"the database refused a value ({reason}); nothing was changed"
    if _MISSING_SCHEMA.search(reason):
        return f"{where} lacks Cadenza's tables or columns ({reason}): run `cadenza init`"
    if isinstance(exc, OperationalError):
        return f"cannot use the database {where}: {reason} (see CADENZA_DATABASE_URL)"
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _database_url() -> str:
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    from cadenza.store_settings import store_settings

    try:
        return make_url(store_settings().database_url).render_as_string(hide_password=True)
    except (ArgumentError, CadenzaError):
        return "CADENZA_DATABASE_URL"


class Context:
    """What a command needs, made lazily: settings, clock, database.

    Every setting is read (and checked) up front, unless the command only reads the
    database (`reading()`): then the database's own settings open it, and the others are
    read if the command asks for them.
    """

    def __init__(self, *, settings: bool = True) -> None:
        self._settings: Settings | None = None
        if settings:
            from cadenza.settings import get_settings

            self._settings = get_settings()
        self.clock: Clock = clock_from_env()
        self._engine: Engine | None = None
        self._viewer: Viewer | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from cadenza.settings import get_settings

            self._settings = get_settings()
        return self._settings

    @property
    def viewer(self) -> Viewer:
        """The operator: an admin, whom history names as `--as EMAIL` gives, else `cli`."""
        if self._viewer is None:
            from cadenza.services.users.access import OPERATOR, operator_as

            email = os.environ.get(AS_VARIABLE) or None
            if email is None:
                self._viewer = OPERATOR
            else:
                with self.sessions() as session:
                    self._viewer = operator_as(session=session, email=email)
        return self._viewer

    @property
    def actor(self) -> str:
        """Who history names for this command's actions."""
        return self.viewer.actor

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy.exc import ArgumentError

            from cadenza.store.engines import make_engine

            given = self._settings
            try:
                self._engine = (
                    make_engine()  # the database's settings alone (cadenza/store_settings.py)
                    if given is None
                    else make_engine(given.database_url, synchronous=given.sqlite_synchronous)
                )
            except (ArgumentError, ImportError) as exc:  # unparsable, or an unknown driver
                raise ConfigurationError(
                    f"CADENZA_DATABASE_URL cannot be used ({exc}); write it as "
                    "sqlite:///cadenza.db or postgresql+psycopg://user@host/database"
                ) from None
            except OSError as exc:  # SQLite's folder cannot be made
                raise ConfigurationError(
                    f"cannot use the database {_database_url()}: {exc.strerror} "
                    f"({exc.filename}; see CADENZA_DATABASE_URL)"
                ) from None
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        from cadenza.store.db import session_factory

        return session_factory(self.engine)


def context() -> Context:
    return Context()


def reading() -> Context:
    """The context of a command that only reads the database (a listing): it starts without
    pydantic's settings, whose checks that concern opening the database still apply."""
    return Context(settings=False)


@contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """`cadenza.store.db.writing`, imported when a command first writes."""
    from cadenza.store.db import writing as store_writing

    with store_writing(sessions) as session:
        yield session


def parse_time_option(value: str | None, name: str) -> datetime | None:
    """Parse an ISO option (None when not given); BadValue says what is wrong with it."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise BadValue(f"{name} {exc}") from None


def json_option(text: str, name: str) -> Any:
    """An option's JSON; ValidationFailed when it is not JSON or nests past Python's stack."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{name} is not JSON: {exc}") from None
    except RecursionError:
        raise ValidationFailed(f"{name} is nested too deeply") from None


def id_argument(help_text: str) -> Any:
    """A required id argument, refused (exit 2) beyond what the databases can hold."""
    return typer.Argument(..., help=help_text, min=1, max=MAX_ID, show_default=False)


def id_option(help_text: str) -> Any:
    """An optional id option, refused (exit 2) beyond what the databases can hold."""
    return typer.Option(None, help=help_text, min=1, max=MAX_ID)


def print_json(rows: Any) -> None:
    """One JSON document on stdout (listing commands print one array)."""
    sys.stdout.write(json.dumps(rows, default=_json_default, ensure_ascii=False, indent=2) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def settle_long_running() -> None:
    """Before a server or worker starts its loop: leave what starting made out of every later
    garbage collection. The modules, route table and models of a server are some 270,000
    objects that live until it exits; each full collection walked them all, a 70-90 ms pause
    of every request in flight under `cadenza bench api` (9-18 ms once frozen). Their garbage
    is collected first, so nothing dead is kept."""
    import gc

    gc.collect()
    gc.freeze()
