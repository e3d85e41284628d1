"""`cadenza simulate`: the dry-run timeline of one contact through a sequence file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from cadenza.cli.app import (
    app,
    context,
    guarded,
    json_option,
    out,
    parse_time_option,
    print_json,
)
from cadenza.clock import parse_instant
from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.core.lint import lint_file
from cadenza.core.simulation import Timeline, simulate
from cadenza.errors import DefinitionError, ValidationFailed

DEFAULT_HORIZON = timedelta(days=365)


def _contact(text: str | None) -> ContactView:
    if text is None:
        return ContactView(
            first_name="Sam", last_name="Sample", email="sam@example.com", phone="+13125550123"
        )
    try:
        return ContactView.model_validate(json_option(_json_or_file(text), "--contact"))
    except ValidationError as exc:
        raise ValidationFailed(f"--contact is not a contact as JSON: {exc}") from None


def _json_or_file(text: str) -> str:
    """`--contact`'s JSON: the text itself when it is an object, else the file it names."""
    if text.lstrip().startswith("{"):
        return text
    try:
        return Path(text).read_text(encoding="utf-8")
    except OSError as exc:
        why = exc.strerror or str(exc)
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text (byte {exc.start})"
    raise ValidationFailed(
        f"--contact {text!r} is neither a JSON object nor a readable file: {why}"
    )


def _event(spec: str) -> EventRecord:
    """`replied@ISO` or `opened:step_key@ISO`."""
    name, at, when = spec.partition("@")
    if not at or not name:
        raise ValidationFailed(
            f"--event {spec!r}: write it as NAME@ISO, e.g. replied@2026-12-02T10:00Z"
        )
    name, _, step = name.partition(":")
    try:
        time = parse_instant(when)
    except ValueError as exc:
        raise ValidationFailed(f"--event {spec!r}: {exc}") from None
    return EventRecord(type=name.strip(), time=time, step=step or None)


def _outcomes(specs: list[str]) -> dict[str, str]:
    pairs = {}
    for spec in specs:
        step, eq, outcome = spec.partition("=")
        if not eq or not step or not outcome:
            raise ValidationFailed(f"--outcome {spec!r}: write it as STEP=OUTCOME")
        pairs[step.strip()] = outcome.strip()
    return pairs


@app.command(name="simulate")
@guarded
def simulate_command(
    file: Path = typer.Argument(..., help="A sequence definition (YAML or JSON)."),
    contact: str | None = typer.Option(None, help="The contact as JSON, or a JSON file."),
    start: str | None = typer.Option(None, help="Enrollment time (ISO); default now."),
    event: list[str] = typer.Option([], help="An event NAME@ISO (repeatable)."),
    outcome: list[str] = typer.Option([], help="A manual step's outcome STEP=OUTCOME."),
    until: str | None = typer.Option(None, help="Stop at this time (ISO); default a year."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable rows."),
    enrollment: int = typer.Option(
        0, min=0, help="Show the A/B variants this enrollment id gets (the same it would)."
    ),
) -> None:
    """Show when each step would fire for a contact, and why it moved."""
    definition, problems = lint_file(file)
    if problems or definition is None:
        raise DefinitionError(problems)
    person = _contact(contact)
    begin = parse_time_option(start, "--start") or context().clock.now()
    end = parse_time_option(until, "--until") or begin + DEFAULT_HORIZON
    outcomes = _outcomes(outcome)
    for step_key in outcomes:
        try:
            definition.step(step_key)
        except KeyError:
            raise ValidationFailed(f"--outcome: no step {step_key!r} in {file}") from None
    try:
        timeline = simulate(
            definition,
            person,
            start=begin,
            events=[_event(e) for e in event],
            outcomes=outcomes,
            until=end,
            enrollment_id=enrollment,
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if as_json:
        rows = [row.as_json() for row in timeline.rows]
        rows.append(
            {
                "kind": "end",
                "step": None,
                "action": None,
                "local_time": None,
                "utc_time": None,
                "reasons": [],
                "detail": timeline.ending,
                "ending": timeline.ending,
            }
        )
        print_json(rows)
    else:
        _print_table(definition.name, timeline)


def _print_table(name: str, timeline: Timeline) -> None:
    table = Table(title=f"{name} — times in {timeline.zone}", title_justify="left")
    for column in ("step", "what", "local time", "UTC", "why"):
        table.add_column(column, overflow="fold")
    for row in timeline.rows:
        what = row.kind.replace("_", " ") + (f" ({row.action})" if row.action else "")
        what += f" variant {row.variant}" if row.variant else ""
        why = "; ".join([*row.reasons, *([row.detail] if row.detail else [])])
        table.add_row(
            row.step or "",
            what,
            row.local_time[:16].replace("T", " "),
            row.time.strftime("%Y-%m-%d %H:%M"),
            why,
        )
    out.print(table)
    out.print(f"ends: {timeline.ending}")
