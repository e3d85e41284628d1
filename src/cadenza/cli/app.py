"""The Typer application, the shared context of commands, and output helpers."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock, clock_from_env, parse_instant
from cadenza.errors import CadenzaError, DefinitionError
from cadenza.settings import Settings, get_settings

app = typer.Typer(
    name="cadenza",
    help="Cadenza: a sales-engagement sequence engine. Every command takes --now ISO.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Tables piped to a file or another program get room to breathe instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
# Messages to stderr are not wrapped: a problem list is read by people and by scripts.
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Cadenza's errors into a message on stderr and exit code 1 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DefinitionError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            raise typer.Exit(1) from None
        except CadenzaError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper


class Context:
    """What a command needs, made lazily: settings, clock, database."""

    def __init__(self) -> None:
        self.settings: Settings = get_settings()
        self.clock: Clock = clock_from_env()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from cadenza.store.db import make_engine

            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        from cadenza.store.db import session_factory

        return session_factory(self.engine)


def context() -> Context:
    return Context()


def parse_time_option(value: str | None, name: str) -> datetime | None:
    """Parse an ISO option or fail with a usage-style message."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from None


def print_json(rows: Any) -> None:
    """One JSON document on stdout (listing commands print one array)."""
    sys.stdout.write(json.dumps(rows, default=_json_default, ensure_ascii=False, indent=2) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
