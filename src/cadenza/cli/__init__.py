"""The `cadenza` command: thin Typer commands over the services (DESIGN.md section 6)."""

from __future__ import annotations

import importlib
import os
import sys

from cadenza.cli.app import AS_VARIABLE, app
from cadenza.clock import parse_instant

# Every top-level command or group, in the order `cadenza --help` lists them: its one-line
# help and the modules that register it (a group's commands may live in several modules).
# `cadenza NAME …` imports only NAME's modules, so a command starts in the time its own
# imports take; the other names are listed by placeholders carrying the help text alone.
#
# To add a command: write it in a module under cadenza/cli/ that registers it on `app` (or on
# a group's Typer, made with `typer.Typer(...)` and `app.add_typer`), import heavy things
# (services, SQLAlchemy, pydantic models) inside the command's function, not at the top,
# and add its row here (a new group: a new row; a command in an existing group: append the
# module to that group's row). tests/unit/test_cli_commands.py fails when a row is missing,
# its help differs from the command's or a module is not named.
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "init": ("Create the database or upgrade it to the current schema.", ("admin",)),
    "serve": (
        "Serve the API and UI (with an embedded worker and dispatcher unless --no-worker).",
        ("admin",),
    ),
    "lint": (
        "Check definition files; print every problem as path:line:col: message (exit 1 if any).",
        ("definitions",),
    ),
    "apply": (
        "Store sequences from definition files: a new version only when a definition changed.",
        ("definitions",),
    ),
    "schema": ("Print the JSON Schema of a sequence definition.", ("definitions",)),
    "demo": ("Load the demo (again: nothing already there is duplicated).", ("demo",)),
    "enroll": (
        "Enroll contacts into a sequence; refusals are listed with their reasons.",
        ("engine",),
    ),
    "worker": (
        "Advance due enrollments (and send the outbox) until stopped with SIGTERM or Ctrl-C.",
        ("engine",),
    ),
    "event": ("Record something that happened to a contact and apply it.", ("engine",)),
    "history": (
        "What happened, oldest first: the latest --limit events, or --all of them.",
        ("engine",),
    ),
    "intake": (
        "Receive email over SMTP until stopped: replies, bounces, auto-replies, leads.",
        ("inbound",),
    ),
    "migrate": (
        "Move running enrollments of other versions to version N, all of them or none.",
        ("lifecycle",),
    ),
    "prune": (
        "Remove history and sent messages' bodies older than a date (exported first if asked).",
        ("operations",),
    ),
    "backup": (
        "Copy the SQLite database while it runs (PostgreSQL: pg_dump, see docs/deploy.md).",
        ("operations",),
    ),
    "report": (
        "A sequence's report: where its contacts are, outcomes, tasks, rates and the funnel.",
        ("report",),
    ),
    "simulate": (
        "Show when each step would fire for a contact, and why it moved.",
        ("simulate",),
    ),
    "apikeys": ("API keys (Bearer tokens for /api/v1).", ("apikeys",)),
    "bench": (
        "Measure Cadenza against its performance budget.",
        ("bench", "benchmarks", "calendar", "contacts", "loadbench"),
    ),
    "contacts": (
        "Contacts: add, show, update, delete, upsert, merge, import, list; notes and field types.",
        ("contacts", "contact_records"),
    ),
    "sequences": ("List and inspect sequences.", ("definitions", "lifecycle")),
    "domains": ("Blocked domains: nobody at them is reached, on any channel.", ("domains",)),
    "tasks": ("Tasks: manual steps on people's to-do lists.", ("engine",)),
    "enrollments": ("Contacts in sequences.", ("engine", "lifecycle")),
    "messages": ("The outbox: messages written by steps.", ("engine",)),
    "inbound": ("Inbound mail: what Cadenza makes of a message.", ("inbound",)),
    "lists": ("Lists: named sets of contacts a sequence follows (enrollment.list).", ("lists",)),
    "users": ("Users: admins, managers and agents.", ("users", "plans")),
    "groups": ("Groups of users (teams, round-robin).", ("users",)),
    "senders": (
        "Senders: email mailboxes and SMS lines with their caps.",
        ("senders", "sender_delivery"),
    ),
    "subscriptions": (
        "Webhook subscriptions: history events POSTed, signed, to a CRM.",
        ("subscriptions",),
    ),
    "accounts": ("Accounts: companies, their domains and owner.", ("views",)),
    "views": ("Saved views: named filters over contacts or accounts.", ("views",)),
}


def load(names: list[str]) -> None:
    """Import the modules of these commands, then stand placeholders in for all the others."""
    for name in names:
        for module in COMMANDS[name][1]:
            importlib.import_module(f"cadenza.cli.{module}")
    registered = {group.name for group in app.registered_groups}
    registered |= {
        command.name or command.callback.__name__
        for command in app.registered_commands
        if command.callback
    }
    for name, (help_text, _) in COMMANDS.items():
        if name not in registered:
            app.command(name, help=help_text, add_help_option=False)(_placeholder)


def load_all() -> None:
    """Import every command's modules, in name order (the tests compare them with the table)."""
    for module in sorted({module for _, modules in COMMANDS.values() for module in modules}):
        importlib.import_module(f"cadenza.cli.{module}")
    load([])


def _placeholder() -> None:
    """Never runs: a command named on the command line has its real module loaded."""


def _command_name(argv: list[str]) -> str | None:
    """The command argv names (its first word that is not an option), if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


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
    name = _command_name(argv)
    load([name] if name in COMMANDS else [])
    app(args=argv, prog_name="cadenza")
