"""The `cadenza` command: thin Typer commands over the services (DESIGN.md section 6)."""

from __future__ import annotations

import os
import sys

from cadenza.cli import (  # noqa: F401  - each module registers its commands on `app`
    admin,
    apikeys,
    bench,
    benchmarks,
    calendar,
    contacts,
    definitions,
    demo,
    engine,
    inbound,
    lifecycle,
    plans,
    report,
    senders,
    simulate,
    users,
)
from cadenza.cli.app import AS_VARIABLE, app
from cadenza.clock import parse_instant


def _lift_now(argv: list[str]) -> tuple[list[str], bool]:
    """Every command takes `--now ISO`: lift it out of argv into CADENZA_NOW wherever it is.

    Also says whether argv gave one (an empty CADENZA_NOW in the environment means unset).
    """
    out: list[str] = []
    given = False
    args = iter(argv)
    for arg in args:
        if arg == "--now":
            value = next(args, None)
            if value is None:
                out.append(arg)  # let Typer report the usage error
                break
            os.environ["CADENZA_NOW"], given = value, True
        elif arg.startswith("--now="):
            os.environ["CADENZA_NOW"], given = arg.removeprefix("--now="), True
        else:
            out.append(arg)
    return out, given


def _lift_as(argv: list[str]) -> list[str]:
    """Every command takes `--as EMAIL` (who history names): lifted into CADENZA_AS."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--as":
            value = next(args, None)
            if value is None:
                sys.stderr.write("error: --as needs a user's email\n")
                raise SystemExit(2)
            os.environ[AS_VARIABLE] = value
        elif arg.startswith("--as="):
            os.environ[AS_VARIABLE] = arg.removeprefix("--as=")
        else:
            out.append(arg)
    return out


def _now_problem(given: bool) -> str | None:
    """What is wrong with the clock's fixed time, if anything (checked before any command)."""
    text = os.environ.get("CADENZA_NOW")
    if text is None or (not text and not given):
        return None
    try:
        parse_instant(text)
    except ValueError as exc:
        return f"{'--now' if given else 'CADENZA_NOW'} {exc}"
    return None


def main() -> None:
    """Console-script entry point."""
    argv, given = _lift_now(_lift_as(sys.argv[1:]))
    problem = _now_problem(given)
    if problem is not None:
        sys.stderr.write(f"error: {problem}\n")
        raise SystemExit(2)
    app(args=argv, prog_name="cadenza")
