"""`cadenza bench cli` (start-up time) and `cadenza bench api` (latency under load)."""

from __future__ import annotations

import typer
from rich.table import Table

from cadenza.cli.app import guarded, out, print_json
from cadenza.cli.bench import bench_app

_VERDICT = {True: "[green]ok[/green]", False: "[red]above goal[/red]", None: "floor"}


@bench_app.command("cli")
@guarded
def bench_cli(
    runs: int = typer.Option(7, min=1, max=100, help="Fresh processes per command line."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Time `cadenza --help` and listings on a small database, each in fresh processes."""
    from cadenza.benchmarks.startup import measure

    figures = measure(runs)
    if as_json:
        print_json(
            [
                {
                    "figure": figure.label,
                    "median_ms": round(figure.median * 1000, 1),
                    "best_ms": round(figure.best * 1000, 1),
                    "goal_ms": None if figure.goal is None else round(figure.goal * 1000),
                    "runs": len(figure.seconds),
                    "meets_goal": figure.meets_goal,
                }
                for figure in figures
            ]
        )
        return
    table = Table(title=f"cadenza bench cli (median of {runs} fresh processes)")
    for column in ("command", "median", "best", "goal", "verdict"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for figure in figures:
        goal = "—" if figure.goal is None else f"≤ {figure.goal * 1000:.0f} ms"
        table.add_row(
            figure.label,
            f"{figure.median * 1000:.0f} ms",
            f"{figure.best * 1000:.0f} ms",
            goal,
            _VERDICT[figure.meets_goal],
        )
    out.print(table)


@bench_app.command("api")
@guarded
def bench_api(
    db: str = typer.Option("sqlite", "--db", help="sqlite or postgres."),
    clients: int = typer.Option(20, min=1, max=200, help="Concurrent API clients."),
    seconds: float = typer.Option(15.0, min=1, max=600, help="How long the clients run."),
    burst: int = typer.Option(20_000, min=0, help="Due no-op enrollments to drain meanwhile."),
    pg_url: str | None = typer.Option(None, help="A PostgreSQL server URL (scratch database)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """API latency (p50/p95/p99) under concurrent clients while the engine drains a burst."""
    from cadenza.benchmarks.api import GOAL_P99_SECONDS, ApiFigures, measure
    from cadenza.benchmarks.databases import DEFAULT_PG_URL

    if db not in ("sqlite", "postgres", "postgresql"):
        raise typer.BadParameter("use sqlite or postgres", param_hint="--db")
    backend = "sqlite" if db == "sqlite" else "postgresql"
    figures = measure(
        backend, clients=clients, seconds=seconds, burst=burst, pg_url=pg_url or DEFAULT_PG_URL
    )
    rows = [("all requests", figures.all()), *sorted(figures.latencies.items())]
    q = ApiFigures.quantile
    if as_json:
        print_json(
            {
                "backend": backend,
                "clients": clients,
                "seconds": seconds,
                "burst": burst,
                "drained": figures.drained,
                "tasks": figures.tasks,
                "tasks_done": figures.tasks_done,
                "errors": figures.errors,
                "goal_p99_ms": GOAL_P99_SECONDS * 1000,
                "operations": {
                    name: {
                        "count": len(values),
                        **{f"p{p}_ms": round(q(values, p / 100) * 1000, 1) for p in (50, 95, 99)},
                    }
                    for name, values in rows
                },
            }
        )
        return
    title = (
        f"cadenza bench api ({backend}, {clients} clients, {seconds:.0f} s, "
        f"burst {figures.drained:,}/{burst:,} drained, "
        f"{figures.tasks_done:,}/{figures.tasks:,} tasks done, "
        f"{figures.errors} errors)"
    )
    table = Table(title=title)
    for column in ("operation", "count", "p50", "p95", "p99", "goal"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for name, values in rows:
        p99 = q(values, 0.99)
        goal = f"≤ {GOAL_P99_SECONDS * 1000:.0f} ms" if name == "all requests" else ""
        verdict = "" if not goal else (" [green]ok[/green]" if p99 <= GOAL_P99_SECONDS else "")
        table.add_row(
            name,
            str(len(values)),
            *(f"{q(values, p) * 1000:.0f} ms" for p in (0.5, 0.95)),
            f"{p99 * 1000:.0f} ms",
            goal + verdict,
        )
    out.print(table)
