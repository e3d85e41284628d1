"""`cadenza report SEQUENCE [--since --until] [--json | --csv]`: a sequence's figures."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table

from cadenza.cli.app import app, context, guarded, out, print_json
from cadenza.errors import ValidationFailed


@app.command("report")
@guarded
def report_command(
    sequence: str = typer.Argument(..., help="The sequence's name."),
    since: str | None = typer.Option(None, help="First UTC day counted (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, help="Last UTC day counted (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="The whole report as one JSON object."),
    as_csv: bool = typer.Option(False, "--csv", help="One CSV row per figure."),
) -> None:
    """A sequence's report: where its contacts are, outcomes, tasks, rates and the funnel."""
    from cadenza.services import reports
    from cadenza.services.reports.export import sequence_csv

    if as_json and as_csv:
        raise ValidationFailed("give --json or --csv, not both")
    timeframe = reports.timeframe_of(since, until)
    ctx = context()
    with ctx.sessions() as session:
        report = reports.sequence_report(
            session=session, name=sequence, timeframe=timeframe, viewer=ctx.viewer
        )
    if as_json:
        print_json(report)
    elif as_csv:
        sys.stdout.write(sequence_csv(report))
    else:
        _print(report)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _print(report: dict[str, Any]) -> None:
    span = f"{report['since'] or 'the start'} to {report['until'] or 'today'}"
    out.print(f"{report['sequence']} — {span} (UTC days)", markup=False, highlight=False)
    now = ", ".join(f"{n} {status}" for status, n in report["now"].items())
    outcomes = ", ".join(f"{n} {name}" for name, n in report["outcomes"].items())
    tasks = report["tasks"]
    lines = [
        f"enrolled {report['enrolled']}; now {now}",
        f"completed {report['completed']}, exited {report['exited']['total']}; outcomes {outcomes}",
        f"tasks open {tasks['open']}, completed {tasks['completed']['total']}",
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False)
    table = Table("figure", "contacts", "rate", title="Messages (unique contacts)")
    for figure, value in report["messages"].items():
        table.add_row(figure, str(value["count"]), _percent(value["rate"]))
    out.print(table)
    steps = Table("step", "reached", "ran", "skipped", "deferred", "sent", "opened", "replied")
    for step in report["steps"]:
        m = step["messages"]
        steps.add_row(
            step["step"], str(step["reached"]), str(step["ran"]),
            str(step["skipped"]["total"]), str(step["deferred"]["total"]),
            str(m["sent"]["count"]), _percent(m["opened"]["rate"]), _percent(m["replied"]["rate"]),
        )  # fmt: skip
    out.print(steps)
