"""Database and server commands: init, serve."""

from __future__ import annotations

import typer

from cadenza.cli.app import app, context, guarded, out, settle_long_running
from cadenza.errors import ConfigurationError


@app.command()
@guarded
def init() -> None:
    """Create the database or upgrade it to the current schema."""
    from cadenza.store import migrate

    ctx = context()
    migrate.upgrade(ctx.engine)
    out.print(f"database ready: {ctx.engine.url.render_as_string(hide_password=True)}")


@app.command()
@guarded
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run an embedded worker."),
) -> None:
    """Serve the API and UI (with an embedded worker and dispatcher unless --no-worker)."""
    import uvicorn

    from cadenza.server import create_app

    ctx = context()
    problem = ctx.settings.signing_problem()
    if problem is not None:
        raise ConfigurationError(f"not serving: {problem}")
    application = create_app(ctx.settings, clock=ctx.clock, embedded_worker=worker)
    settle_long_running()
    if ctx.settings.log_format == "json":
        from cadenza.logs import configure

        configure("json")  # uvicorn's own loggers then reach the root's JSON handler
        uvicorn.run(application, host=host, port=port, log_config=None)
        return
    uvicorn.run(application, host=host, port=port, log_level="info")
