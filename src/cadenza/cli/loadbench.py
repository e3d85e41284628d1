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
