"""`cadenza intake`: the SMTP server that receives replies, bounces and lead emails."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import typer

from cadenza.cli.app import app, context, guarded, out
from cadenza.errors import ConfigurationError


@app.command()
@guarded
def intake(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(2525, min=0, max=65535, help="Port to listen on."),
) -> None:
    """Receive email over SMTP until stopped: replies, bounces, auto-replies, leads."""
    from cadenza.channels.inbound_smtp import start_intake
    from cadenza.services.inbound import intake_callback

    # One line per message, as it is handled: this command's log is its output.
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s", force=True
    )
    ctx = context()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        controller = start_intake(
            host, port, intake_callback(ctx.sessions, ctx.clock, ctx.settings)
        )
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    out.print(f"intake listening on {host}:{port}", markup=False, highlight=False)
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        controller.stop()
