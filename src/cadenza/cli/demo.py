"""`cadenza demo`: load the example users, sequences and contacts, and enroll them."""

from __future__ import annotations

from pathlib import Path

import typer

from cadenza.cli.app import app, context, guarded


@app.command()
@guarded
def demo(
    examples: Path | None = typer.Option(None, help="The examples folder (default: examples/)."),
) -> None:
    """Load the demo (again: nothing already there is duplicated)."""
    from cadenza.services.demo import examples_folder, load_demo
    from cadenza.store import migrate

    ctx = context()
    migrate.upgrade(ctx.engine)
    report = load_demo(ctx.sessions, examples or examples_folder(), ctx.clock.now(), ctx.settings)
    for line in report.lines:
        typer.echo(line)
