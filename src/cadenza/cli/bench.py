"""`cadenza bench …`: benchmarks that print figures beside the goals of DESIGN.md section 7."""

from __future__ import annotations

import typer

from cadenza.cli.app import app

bench_app = typer.Typer(
    help="Measure Cadenza against its performance budget.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
