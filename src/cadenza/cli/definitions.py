"""Sequences as code: `lint`, `apply`, `schema`, and `sequences list|show`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cadenza.cli.app import app, context, err, guarded, out, print_json, reading
from cadenza.cli.listing import all_option, limit_option, show_list
from cadenza.errors import DefinitionError, NotFound, Problem

if TYPE_CHECKING:
    from cadenza.core.definition import Definition

sequences_app = typer.Typer(help="List and inspect sequences.", no_args_is_help=True)
app.add_typer(sequences_app, name="sequences")

FILES = typer.Argument(..., help="Definition files (YAML or JSON).", show_default=False)


def _lint_all(files: list[Path]) -> tuple[list[tuple[Path, Definition]], int, int]:
    """Lint each file, printing its problems; the clean definitions, problem and file counts."""
    from cadenza.core.lint import lint_file

    clean: list[tuple[Path, Definition]] = []
    problems = bad_files = 0
    types = _field_types()
    for file in files:
        try:
            definition, found = lint_file(file)
        except NotFound as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            bad_files += 1
            continue
        if definition is not None and not found and types:
            from cadenza.core.lint.fields import field_problems

            text = file.read_text(encoding="utf-8")
            found = field_problems(definition, text, str(file), types)
        _print_problems(found)
        problems += len(found)
        bad_files += bool(found)
        if definition is not None and not found:
            clean.append((file, definition))
    return clean, problems, bad_files


def _field_types() -> dict[str, Any] | None:
    """The database's custom field types when it has any (said on stderr), else None."""
    from cadenza.services.contacts.fields import known_field_types

    url = context().settings.database_url
    types = known_field_types(url)
    if types:
        names = ", ".join(sorted(types))
        err.print(
            f"custom fields checked against the database's definitions ({names})",
            markup=False, highlight=False,
        )  # fmt: skip
    return types


def _print_problems(problems: list[Problem]) -> None:
    # Plain writes: rich would wrap long lines and break `path:line:col:` parsing.
    for problem in problems:
        typer.echo(str(problem))


@app.command()
@guarded
def lint(files: list[Path] = FILES) -> None:
    """Check definition files; print every problem as path:line:col: message (exit 1 if any)."""
    clean, problems, bad_files = _lint_all(files)
    for file, _ in clean:
        typer.echo(f"{file}: ok")
    if bad_files:
        noun = "file" if bad_files == 1 else "files"
        typer.echo(f"{problems} problem{'' if problems == 1 else 's'} in {bad_files} {noun}")
        raise typer.Exit(1)


@app.command()
@guarded
def apply(files: list[Path] = FILES) -> None:
    """Store sequences from definition files: a new version only when a definition changed.

    Every file is linted first; if any has a problem, or names a user or group that does not
    exist, nothing is applied.
    """
    from cadenza.cli.app import writing
    from cadenza.services import sequences

    try:
        sources = sequences.lint_files(files)
    except DefinitionError as exc:
        _print_problems(exc.problems)
        err.print("nothing applied: fix the problems above", markup=False, highlight=False)
        raise typer.Exit(1) from None
    ctx = context()
    viewer = ctx.viewer
    try:
        with writing(ctx.sessions) as session:
            results = sequences.apply_sources(
                session=session,
                sources=sources,
                now=ctx.clock.now(),
                viewer=viewer,
                settings=ctx.settings,
            )
    except sequences.UnknownReferences as exc:
        raise NotFound(f"nothing applied: {exc}") from None
    for result in results:
        typer.echo(f"{result.verb} {result.name} v{result.version}")


@app.command()
@guarded
def schema() -> None:
    """Print the JSON Schema of a sequence definition."""
    from cadenza.core.definition import Definition

    print_json(Definition.model_json_schema(by_alias=True))


@sequences_app.command("list")
@guarded
def list_command(
    status: str | None = typer.Option(None, help="draft, active, paused, ended or archived."),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """List sequences by name: status, steps, latest version, contacts enrolled."""
    # Read through SQLAlchemy Core, as the operator (every sequence): no ORM, no models.
    from sqlalchemy import func, select

    from cadenza.services.paging import Page
    from cadenza.services.sequences.pages import page_sequences
    from cadenza.store.columns import sequences

    def read(cursor: str | None, size: int) -> Page[dict[str, Any]]:
        page = page_sequences(session=connection, status=status, limit=size, cursor=cursor)
        return Page([row.as_dict() for row in page.rows], page.next, page.total)

    with reading().engine.connect() as connection:
        if not as_json and not connection.scalar(select(func.count()).select_from(sequences)):
            out.print("no sequences yet: write one and run `cadenza apply FILE`", markup=False)
            return
        show_list(
            read,
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=_sequence_cells,
            columns=("name", "status", "steps", "version", "enrolled", "updated (UTC)"),
        )


def _sequence_cells(row: Mapping[str, Any]) -> list[str]:
    updated = f"{row['updated_at']:%Y-%m-%d %H:%M}"
    counts = (str(row["steps"]), f"v{row['version']}", str(row["enrolled"]))
    return [row["name"], row["status"], *counts, updated]


@sequences_app.command("show")
@guarded
def show(
    name: str = typer.Argument(..., help="The sequence's name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array (one row)."),
) -> None:
    """Show a sequence: its settings, its versions and the steps of the latest one."""
    from cadenza.services.sequences import sequence_detail

    with context().sessions() as session:
        detail = sequence_detail(session=session, name=name)
    if as_json:
        print_json([detail])
        return
    _print_detail(detail)


def _print_detail(detail: dict[str, Any]) -> None:
    from cadenza.core.calendar import describe_wait
    from cadenza.core.definition import Definition

    typer.echo(f"{detail['name']}  ({detail['status']}, v{detail['version']})")
    if detail["description"]:
        typer.echo(detail["description"])
    typer.echo(f"owner: {detail['owner'] or '-'}   enrolled: {detail['enrolled']}")
    team = ", ".join(detail["team"]) or "-"
    typer.echo(f"sharing: {detail['sharing']} ({detail['access']})   team: {team}")
    for line in detail["senders"]:
        caps = [f"{line[c]}/{c[4:]}" for c in ("per_hour", "per_day") if line[c] is not None]
        limits = ", ".join(caps) if line["managed"] else "not a managed sender: no caps"
        typer.echo(f"sends from: {line['kind']} {line['address']} ({limits or 'no caps'})")
    typer.echo("versions:")
    for version in detail["versions"]:
        created = f"{version['created_at']:%Y-%m-%d %H:%M} UTC"
        typer.echo(f"  v{version['number']}  {created}  {version['digest'][:12]}")
    typer.echo("steps:")
    definition = Definition.model_validate(detail["definition"])
    for number, step in enumerate(definition.steps, start=1):
        typer.echo(f"  {number:>2}. {step.key:<24} {step.action:<16} {describe_wait(step.wait)}")
