"""`cadenza prune` (retention) and `cadenza backup` (SQLite): keeping a database for years."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from cadenza.cli.app import app, context, guarded, parse_time_option, writing
from cadenza.errors import ConfigurationError, ValidationFailed


@app.command()
@guarded
def prune(
    before: str | None = typer.Option(
        None, help="Remove history before this ISO date (default: now - CADENZA_RETENTION_DAYS)."
    ),
    export: Path | None = typer.Option(
        None, help="First write what goes to this file, one JSON object a line."
    ),
) -> None:
    """Remove history and sent messages' bodies older than a date (exported first if asked)."""
    from cadenza.services.operations import prune as prune_history

    ctx = context()
    cutoff = parse_time_option(before, "--before")
    if cutoff is None:
        days = ctx.settings.retention_days
        if days is None:
            raise ConfigurationError("give --before DATE or set CADENZA_RETENTION_DAYS")
        cutoff = ctx.clock.now() - timedelta(days=days)
    if export is not None and export.exists():
        raise ValidationFailed(f"{export} exists: choose a new file (nothing was removed)")
    with writing(ctx.sessions) as session:
        if export is None:
            report = prune_history(session=session, before=cutoff)
        else:
            with export.open("xb") as stream:
                report = prune_history(session=session, before=cutoff, export=stream)
    if report.cutoff < report.asked:
        typer.echo(
            f"kept history from {report.cutoff.isoformat()}: enrollments still running "
            "since then may read it"
        )
    typer.echo(f"removed {report.events} history rows and {report.bodies} message bodies")


@app.command()
@guarded
def backup(file: Path = typer.Argument(..., help="Where to write the copy.")) -> None:
    """Copy the SQLite database while it runs (PostgreSQL: pg_dump, see docs/deploy.md)."""
    from cadenza.store.backup import backup_sqlite

    ctx = context()
    if ctx.engine.dialect.name != "sqlite":
        raise ConfigurationError(
            "backup copies SQLite files; back PostgreSQL up with pg_dump (docs/deploy.md)"
        )
    if file.exists():
        raise ValidationFailed(f"{file} exists: choose a new file")
    try:
        pages = backup_sqlite(ctx.engine, file)
    except (ValueError, OSError) as exc:
        raise ValidationFailed(str(exc)) from None
    typer.echo(f"backed up {pages} pages to {file}")
