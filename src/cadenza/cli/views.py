"""`cadenza accounts …` (companies) and `cadenza views …` (saved filters over them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import typer

from cadenza.cli.app import app, context, guarded, out, print_json, writing
from cadenza.cli.listing import all_option, limit_option, show_list

accounts_app = typer.Typer(
    help="Accounts: companies, their domains and owner.", no_args_is_help=True
)
app.add_typer(accounts_app, name="accounts")
views_app = typer.Typer(
    help="Saved views: named filters over contacts or accounts.", no_args_is_help=True
)
app.add_typer(views_app, name="views")


def _fields(options: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{option!r} is not name=value", param_hint="--field")
        fields[name.strip()] = value
    return fields


def _account_cells(row: Mapping[str, Any]) -> list[str]:
    domains = ", ".join(row["domains"])
    return [str(row["id"]), row["name"], domains, row["owner"] or "", str(row["contacts"])]


@accounts_app.command("add")
@guarded
def add_account(
    name: str = typer.Argument(..., help="The company's name."),
    domain: list[str] = typer.Option([], "--domain", help="An email domain (repeatable)."),
    owner: str | None = typer.Option(None, help="The owner's email (what company_owner names)."),
    field: list[str] = typer.Option([], "--field", help="name=value field (repeatable)."),
) -> None:
    """Add an account; a domain belongs to one account only."""
    from cadenza.services import accounts

    ctx = context()
    with writing(ctx.sessions) as session:
        made = accounts.create_account(
            session=session, viewer=ctx.viewer, name=name, domains=domain, owner=owner,
            fields=_fields(field), now=ctx.clock.now(),
        )  # fmt: skip
        typer.echo(f"added account {made.id} {made.name}")


@accounts_app.command("list")
@guarded
def list_accounts(
    search: str | None = typer.Option(None, help="Text in the name or a domain."),
    view: str | None = typer.Option(None, help="Only the accounts a view of accounts shows."),
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List accounts by name."""
    from cadenza.services import accounts, audiences
    from cadenza.services.paging import Page

    ctx = context()
    columns = ("id", "name", "domains", "owner", "contacts")
    with ctx.sessions() as session:
        if view is not None:
            rows = audiences.view_accounts(
                session=session, viewer=ctx.viewer, view=view, now=ctx.clock.now()
            )
            show_list(
                lambda cursor, size: Page([asdict(r) for r in rows]),
                limit=limit, everything=False, as_json=as_json,
                cells=_account_cells, columns=columns,
            )  # fmt: skip
            return
        show_list(
            lambda cursor, size: _dicts(
                accounts.page_accounts(session=session, search=search, limit=size, cursor=cursor)
            ),
            limit=limit, everything=everything, as_json=as_json,
            cells=_account_cells, columns=columns,
        )  # fmt: skip


def _dicts(page: Any) -> Any:
    from cadenza.services.paging import Page

    return Page([asdict(r) for r in page.rows], page.next, page.total)


@accounts_app.command("show")
@guarded
def show_account(
    account: str = typer.Argument(..., help="The account's name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """An account with its domains, owner, fields and contacts."""
    from cadenza.services import accounts
    from cadenza.services.contacts import contact_row

    with context().sessions() as session:
        row = accounts.account_row(session=session, account=account)
        ids = accounts.contact_ids_of(session=session, account_id=row.id)
        people = [contact_row(session=session, contact_id=i) for i in ids[:1000]]
    data = {**asdict(row), "contact_rows": people}
    if as_json:
        print_json(data)
        return
    out.print(f"{row.name} (account {row.id})", markup=False, highlight=False)
    out.print(f"domains: {', '.join(row.domains) or '—'}", markup=False, highlight=False)
    out.print(f"owner: {row.owner or '—'}", markup=False, highlight=False)
    for name, value in row.fields.items():
        out.print(f"{name}: {value}", markup=False, highlight=False)
    out.print(f"contacts: {row.contacts}", markup=False, highlight=False)
    for person in people:
        label = f"{person['first_name']} {person['last_name']}".strip()
        out.print(
            f"  {person['id']} {label} {person['email'] or ''}", markup=False, highlight=False
        )


@accounts_app.command("update")
@guarded
def update_account(
    account: str = typer.Argument(..., help="The account's name or id."),
    name: str | None = typer.Option(None, help="A new name."),
    domain: list[str] = typer.Option([], "--domain", help="Its domains become these (repeatable)."),
    owner: str | None = typer.Option(None, help="The owner's email ('' removes the owner)."),
    field: list[str] = typer.Option([], "--field", help="name=value field to set (repeatable)."),
    contact: list[int] = typer.Option(
        [], "--contact", help="Put this contact in it (repeatable).", min=1
    ),
) -> None:
    """Change an account: what is not given stays."""
    from cadenza.services import accounts

    ctx = context()
    now = ctx.clock.now()
    with writing(ctx.sessions) as session:
        found = accounts.update_account(
            session=session, viewer=ctx.viewer, account=account, name=name,
            domains=domain or None, owner=owner, fields=_fields(field) or None, now=now,
        )  # fmt: skip
        for contact_id in contact:
            accounts.set_contact_account(
                session=session, viewer=ctx.viewer, contact_id=contact_id, account=found.id, now=now
            )
        typer.echo(f"updated account {found.id} {found.name}")


@accounts_app.command("delete")
@guarded
def delete_account(account: str = typer.Argument(..., help="The account's name or id.")) -> None:
    """Delete an account; its contacts stay, without an account."""
    from cadenza.services import accounts

    ctx = context()
    with writing(ctx.sessions) as session:
        name = accounts.delete_account(
            session=session, viewer=ctx.viewer, account=account, now=ctx.clock.now()
        )
    typer.echo(f"deleted account {name}")


def _condition(text: str) -> Any:
    """A condition option as YAML or JSON data."""
    import yaml

    from cadenza.errors import ValidationFailed

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"--where is not YAML or JSON: {exc}") from None


@views_app.command("add")
@guarded
def add_view(
    name: str = typer.Argument(..., help="The view's name."),
    where: str = typer.Option(..., help="The condition (YAML or JSON), e.g. '{tag: webinar}'."),
    kind: str = typer.Option("contacts", help="contacts or accounts."),
    sharing: str = typer.Option("private", help="private, team or everyone."),
    access: str = typer.Option("view", help="What sharing gives: view or edit."),
) -> None:
    """Save a named filter."""
    from cadenza.services import audiences

    ctx = context()
    with writing(ctx.sessions) as session:
        made = audiences.create_view(
            session=session, viewer=ctx.viewer, name=name, condition=_condition(where), kind=kind,
            sharing=sharing, access_=access, now=ctx.clock.now(),
        )  # fmt: skip
        typer.echo(f"added view {made.id} {made.name}")


@views_app.command("list")
@guarded
def list_views(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List the views you see, by name."""
    from cadenza.services import audiences

    ctx = context()
    with ctx.sessions() as session:
        show_list(
            lambda cursor, size: _dicts(
                audiences.page_views(session=session, viewer=ctx.viewer, limit=size, cursor=cursor)
            ),
            limit=limit, everything=everything, as_json=as_json,
            cells=lambda r: [str(r["id"]), r["name"], r["kind"], r["description"], r["sharing"]],
            columns=("id", "name", "kind", "condition", "sharing"),
        )  # fmt: skip


@views_app.command("update")
@guarded
def update_view(
    view: str = typer.Argument(..., help="The view's name or id."),
    name: str | None = typer.Option(None, help="A new name."),
    where: str | None = typer.Option(None, help="A new condition (YAML or JSON)."),
    sharing: str | None = typer.Option(None, help="private, team or everyone."),
    access: str | None = typer.Option(None, help="view or edit."),
) -> None:
    """Change a view you may edit."""
    from cadenza.services import audiences

    ctx = context()
    with writing(ctx.sessions) as session:
        found = audiences.update_view(
            session=session, viewer=ctx.viewer, name=view, new_name=name,
            condition=None if where is None else _condition(where), sharing=sharing,
            access_=access, now=ctx.clock.now(),
        )  # fmt: skip
        typer.echo(f"updated view {found.name}")


@views_app.command("delete")
@guarded
def delete_view(view: str = typer.Argument(..., help="The view's name or id.")) -> None:
    """Delete a view you may edit."""
    from cadenza.services import audiences

    ctx = context()
    with writing(ctx.sessions) as session:
        name = audiences.delete_view(session=session, viewer=ctx.viewer, name=view)
    typer.echo(f"deleted view {name}")
