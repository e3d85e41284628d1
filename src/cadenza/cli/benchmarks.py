"""`cadenza bench engine`: the worker's figures beside the goals and the database's ceiling."""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from cadenza.cli.app import err, guarded, out, print_json
from cadenza.cli.bench import bench_app


@bench_app.command("engine")
@guarded
def bench_engine(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    contacts: int = typer.Option(100_000, min=1000, help="Contacts enrolled and advanced."),
    pending: int = typer.Option(1_000_000, min=0, help="Future enrollments for the tick test."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Enrollments/s, steps/s, lateness, tick and claim cost, worker memory."""
    from cadenza.benchmarks.engine import GOALS, run

    if db not in ("sqlite", "postgres", "postgresql"):
        raise typer.BadParameter("sqlite or postgres", param_hint="--db")
    backend = "sqlite" if db == "sqlite" else "postgresql"
    figures = run(
        backend,
        contacts,
        pending,
        pg_url,
        report=lambda message: err.print(f"… {message}", style="dim"),
    )
    if as_json:
        print_json(dataclasses.asdict(figures))
        return
    table = Table(title=f"cadenza bench engine — {backend}, {contacts:,} contacts")
    for column in ("figure", "measured", "goal", "database ceiling"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    ceiling = f"{figures.ceiling_per_s:,.0f} steps/s"
    table.add_row(
        "enroll contacts", f"{figures.enroll_per_s:,.0f}/s", f"≥ {GOALS['enroll'][backend]:,}/s", ""
    )
    table.add_row(
        "advance no-op steps, one worker",
        f"{figures.steps_per_s:,.0f}/s",
        f"≥ {GOALS['steps']:,}/s",
        ceiling,
    )
    table.add_row(
        f"lateness p50 / p99 at {figures.lateness_rate:,.0f} steps/s (80%)",
        f"{figures.lateness_p50_s:.3f} s / {figures.lateness_p99_s:.3f} s",
        "p99 ≤ 1 s",
        "",
    )
    for label, value in figures.tick_ms.items():
        goal = "≤ 1 ms" if label.startswith("empty") else "≤ 5 ms"
        table.add_row(label, f"{value:.2f} ms", goal, "")
    for label, value in figures.memory_mib.items():
        table.add_row(f"peak memory, {label}", f"{value:.0f} MiB", "≤ 100 MiB", "")
    out.print(table)
