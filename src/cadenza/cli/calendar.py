"""`cadenza bench calendar`: next_allowed calls per second beside the goal."""

from __future__ import annotations

import typer
from rich.table import Table

from cadenza.cli.app import guarded, out, print_json
from cadenza.cli.bench import bench_app


@bench_app.command("calendar")
@guarded
def bench_calendar(
    calls: int = typer.Option(50_000, min=1000, help="next_allowed calls in each round."),
    rounds: int = typer.Option(5, min=1, help="Timed rounds; the fastest one is the figure."),
    as_json: bool = typer.Option(False, "--json", help="Print the figure as JSON."),
) -> None:
    """Time next_allowed over mixed policies, zones, channels and instants."""
    from cadenza.benchmarks.calendar import GOAL_PER_SECOND, measure

    figure = measure(calls, rounds)
    if as_json:
        print_json(
            {
                "figure": "next_allowed calls/s, mixed policies",
                "value": round(figure.best),
                "median": round(figure.median),
                "goal": GOAL_PER_SECOND,
                "calls": figure.calls,
                "rounds": len(figure.seconds),
                "meets_goal": figure.meets_goal,
            }
        )
        return
    table = Table(title="cadenza bench calendar")
    for column in ("figure", "best round", "median round", "goal", "verdict"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    table.add_row(
        f"next_allowed, mixed policies ({figure.calls:,} calls, {len(figure.seconds)} rounds)",
        f"{figure.best:,.0f}/s",
        f"{figure.median:,.0f}/s",
        f"≥ {GOAL_PER_SECOND:,}/s",
        "[green]ok[/green]" if figure.meets_goal else "[red]below goal[/red]",
    )
    out.print(table)
