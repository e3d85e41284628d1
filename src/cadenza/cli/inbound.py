"""`cadenza intake` (the SMTP server that receives replies, bounces and lead emails) and
`cadenza inbound classify` (what Cadenza makes of a message, read from a file)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from cadenza.cli.app import app, context, guarded, out, print_json
from cadenza.errors import ConfigurationError, ValidationFailed


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


inbound_app = typer.Typer(
    help="Inbound mail: what Cadenza makes of a message.", no_args_is_help=True
)
app.add_typer(inbound_app, name="inbound")


@inbound_app.command("classify")
@guarded
def classify(
    files: list[Path] = typer.Argument(..., help="Raw RFC 5322 messages (.eml files)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array, an object per file."),
) -> None:
    """Say what each message is (reply, bounce, auto-reply, complaint...) and why.

    Reads the files only: no database and no settings are needed.
    """
    from cadenza.channels.inbound_email import describe_email

    raws = [(str(path), _read(path)) for path in files]
    verdicts = [{"file": name, **describe_email(raw)} for name, raw in raws]
    if as_json:
        print_json(verdicts)
        return
    for verdict in verdicts:
        out.print(_as_text(verdict), markup=False, highlight=False)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror or exc}") from None


def _as_text(verdict: dict[str, Any]) -> str:
    lines = [f"{verdict['file']}: {verdict['kind']}"]
    if verdict["recipient"]:
        lines.append(f"  recipient: {verdict['recipient']}")
    if verdict["return_date"]:
        lines.append(f"  return date: {verdict['return_date']}")
    lines.extend(f"  - {reason}" for reason in verdict["reasons"])
    return "\n".join(lines)
