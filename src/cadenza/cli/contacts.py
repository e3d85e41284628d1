"""`cadenza contacts …` (import, list, add) and `cadenza bench import`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cadenza.cli.app import MAX_ID, app, context, guarded, out, print_json, reading, writing
from cadenza.cli.bench import bench_app
from cadenza.cli.listing import all_option, limit_option, show_list

if TYPE_CHECKING:
    from cadenza.services.contacts import ImportReport
    from cadenza.services.contacts import Progress as ProgressCallback

contacts_app = typer.Typer(
    help="Contacts: add, show, update, delete, upsert, merge, import, list; notes and field types.",
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")

SHOWN_REJECTIONS = 20
STAGES = {"checking": "checking rows", "writing": "writing contacts"}


@contacts_app.command("import")
@guarded
def import_contacts(
    file: Path = typer.Argument(..., help="A CSV file with a header row."),
    map_: list[str] = typer.Option(
        [], "--map", help="field=Column: take a field from this column (repeatable)."
    ),
    tag: list[str] = typer.Option([], "--tag", help="Tag every imported contact (repeatable)."),
    match_accounts: bool = typer.Option(
        False, "--match-accounts", help="Put contacts in the account of their email's domain."
    ),
    match_on: str = typer.Option(
        "email", "--match-on", help="email (else phone) or external_id: what finds a contact."
    ),
) -> None:
    """Import contacts from CSV; bad rows are listed and written to FILE.rejects.csv.

    Exits 1 when the file is refused or no row could be imported, 0 otherwise (even when
    some rows were rejected: the good ones are in).
    """
    from cadenza.services.contacts import import_csv

    ctx = context()
    with _progress_bar() as progress:
        report = import_csv(
            session_factory=ctx.sessions,
            path=file,
            mapping=parse_mapping(map_),
            default_region=ctx.settings.default_region,
            now=ctx.clock.now(),
            default_tags=tag,
            progress=progress,
            settings=ctx.settings,
            actor=ctx.actor,
            match_accounts=match_accounts,
            match_on=match_on,
        )
    _print_report(report)
    if report.imported + report.updated == 0:
        raise typer.Exit(1)


def parse_mapping(options: list[str]) -> dict[str, str]:
    """`--map field=Column` options as {field: column}; a malformed one is a usage error."""
    mapping: dict[str, str] = {}
    for option in options:
        name, sep, column = option.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise typer.BadParameter(f"{option!r} is not field=Column", param_hint="--map")
        mapping[name.strip()] = column.strip()
    return mapping


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback | None]:
    """A progress callback drawing a bar, on a terminal only (pipes and logs stay clean)."""
    if not out.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=out, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield advance


def _print_report(report: ImportReport) -> None:
    for rejection in report.rejections[:SHOWN_REJECTIONS]:
        typer.echo(str(rejection))
    if report.rejected > SHOWN_REJECTIONS:
        typer.echo(f"… and {report.rejected - SHOWN_REJECTIONS} more")
    if report.merged:
        typer.echo(f"{report.merged} rows repeated an earlier row's person and were merged")
    typer.echo(report.summary())


@contacts_app.command("list")
@guarded
def list_contacts(
    tag: str | None = typer.Option(None, help="Only contacts with this tag."),
    search: str | None = typer.Option(None, help="Text in names, email, phone or company."),
    view: str | None = typer.Option(None, help="Only the contacts a saved view shows."),
    limit: int = limit_option(),
    everything: bool = all_option(),
    offset: int = typer.Option(0, min=0, max=MAX_ID, help="Skip this many first."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List contacts in id order."""
    # Read through SQLAlchemy Core, as the operator (every contact): no ORM, no models.
    from cadenza.services.contacts.listing import page_contacts

    if view is not None:
        if tag is not None or search is not None or offset:
            raise typer.BadParameter("--view goes without --tag, --search and --offset")
        _list_view(view, limit, everything, as_json)
        return
    with reading().engine.connect() as connection:
        show_list(
            lambda cursor, size: page_contacts(
                session=connection,
                tag=tag,
                search=search,
                limit=size,
                cursor=cursor,
                offset=0 if cursor else offset,
            ),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=_contact_cells,
            columns=("id", "name", "email", "phone", "timezone", "owner", "tags"),
        )


def _list_view(view: str, limit: int, everything: bool, as_json: bool) -> None:
    from cadenza.services.audiences import page_view_contacts

    ctx = context()
    with ctx.sessions() as session:
        show_list(
            lambda cursor, size: page_view_contacts(
                session=session, viewer=ctx.viewer, view=view, now=ctx.clock.now(), limit=size,
                cursor=cursor,
            ),
            limit=limit, everything=everything, as_json=as_json, cells=_contact_cells,
            columns=("id", "name", "email", "phone", "timezone", "owner", "tags"),
        )  # fmt: skip


def _contact_cells(row: Mapping[str, Any]) -> list[str]:
    name = f"{row['first_name']} {row['last_name']}".strip()
    cells = (row["email"], row["phone"], row["timezone"], row["owner"])
    return [str(row["id"]), name, *(c or "" for c in cells), ", ".join(row["tags"])]


@contacts_app.command("add")
@guarded
def add_contact(
    email: str | None = typer.Option(None, help="Email address."),
    phone: str | None = typer.Option(None, help="Phone number (E.164 or the default region's)."),
    first_name: str | None = typer.Option(None, help="First name."),
    last_name: str | None = typer.Option(None, help="Last name."),
    company: str | None = typer.Option(None, help="Company."),
    timezone: str | None = typer.Option(None, help="IANA time zone (else from the phone)."),
    owner: str | None = typer.Option(None, help="The owner's email (a user)."),
    external_id: str | None = typer.Option(None, help="The contact's id in another system."),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    field: list[str] = typer.Option([], "--field", help="name=value custom field (repeatable)."),
) -> None:
    """Add one contact (the import's rules; the same email or phone is refused)."""
    given = {"email": email, "phone": phone, "first_name": first_name, "last_name": last_name}
    given |= {"company": company, "timezone": timezone, "owner": owner, "external_id": external_id}
    data: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    data |= {"tags": tag, "fields": _custom_fields(field)}
    from cadenza.services import contacts as service

    ctx = context()
    with writing(ctx.sessions) as session:
        contact = service.create_contact(
            session=session, data=data, now=ctx.clock.now(), settings=ctx.settings, actor=ctx.actor
        )
        typer.echo(f"added contact {contact.id}")


def _custom_fields(options: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{option!r} is not name=value", param_hint="--field")
        fields[name.strip()] = value
    return fields


@bench_app.command("import")
@guarded
def bench_import(
    rows: int = typer.Option(100_000, min=1000, help="Rows in the generated CSV."),
    db: str = typer.Option("sqlite", "--db", help="sqlite or postgres."),
    pg_url: str | None = typer.Option(
        None, help="A PostgreSQL server URL (a temporary database is created on it and dropped)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figure as JSON."),
) -> None:
    """Import a generated CSV (5% bad rows) into a fresh database and report rows/s."""
    from rich.table import Table

    from cadenza.benchmarks.databases import DEFAULT_PG_URL
    from cadenza.benchmarks.importing import measure

    if db not in ("sqlite", "postgres", "postgresql"):
        raise typer.BadParameter("use sqlite or postgres", param_hint="--db")
    backend = "sqlite" if db == "sqlite" else "postgresql"
    figure = measure(
        rows, backend=backend, now=context().clock.now(), pg_url=pg_url or DEFAULT_PG_URL
    )
    goal = figure.goal
    summary = {
        "figure": f"contact import rows/s ({backend})",
        "value": round(figure.per_second),
        "goal": goal,
        "rows": figure.rows,
        "seconds": round(figure.seconds, 3),
        "imported": figure.report.imported,
        "rejected": figure.report.rejected,
        "meets_goal": figure.meets_goal,
    }
    if as_json:
        print_json(summary)
        return
    table = Table(title="cadenza bench import")
    for column in ("figure", "measured", "goal", "verdict"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    verdict = {True: "[green]ok[/green]", False: "[red]below goal[/red]", None: "no goal"}
    table.add_row(
        f"CSV import, {backend} ({figure.rows:,} rows, {figure.report.rejected:,} rejected)",
        f"{figure.per_second:,.0f}/s",
        f"≥ {goal:,}/s" if goal else "—",
        verdict[figure.meets_goal],
    )
    out.print(table)
