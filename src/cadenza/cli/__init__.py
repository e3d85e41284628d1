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
    simulate,
    users,
)
from cadenza.cli.app import app


def _lift_now(argv: list[str]) -> list[str]:
    """Every command takes `--now ISO`: lift it out of argv into CADENZA_NOW wherever it is."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--now":
            value = next(args, None)
            if value is None:
                out.append(arg)  # let Typer report the usage error
                break
            os.environ["CADENZA_NOW"] = value
        elif arg.startswith("--now="):
            os.environ["CADENZA_NOW"] = arg.removeprefix("--now=")
        else:
            out.append(arg)
    return out


def main() -> None:
    """Console-script entry point."""
    argv = _lift_now(sys.argv[1:])
    app(args=argv, prog_name="cadenza")
