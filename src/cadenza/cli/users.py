"""`cadenza users …` and `cadenza groups …`: the people who work sequences."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cadenza.cli.app import app, context, guarded, out, print_json
from cadenza.services import users as service
from cadenza.store.db import writing

users_app = typer.Typer(help="Users: admins, managers and agents.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups of users (teams, round-robin).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(groups_app, name="groups")


@users_app.command("add")
@guarded
def add_user(
    email: str = typer.Argument(..., help="The user's email (their identity in definitions)."),
    name: str = typer.Option("", help="Display name."),
    role: str = typer.Option("agent", help="admin, manager or agent."),
    phone: str | None = typer.Option(None, help="Phone number (for notifications)."),
) -> None:
    """Add a user."""
    ctx = context()
    with writing(ctx.sessions) as session:
        user = service.add_user(
            session=session,
            email=email,
            name=name,
            role=role,
            phone=phone,
            now=ctx.clock.now(),
            default_region=ctx.settings.default_region,
        )
        typer.echo(f"added user {user.email} ({user.role})")


@users_app.command("list")
@guarded
def list_users(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List users."""
    with context().sessions() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "phone": u.phone,
                "created_at": u.created_at,
            }
            for u in service.list_users(session=session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "email", "name", "role", "phone")
    for row in rows:
        table.add_row(str(row["id"]), row["email"], row["name"], row["role"], row["phone"] or "")
    out.print(table)


@groups_app.command("add")
@guarded
def add_group(
    name: str = typer.Argument(..., help="The group's name (round_robin:<name> in definitions)."),
    member: list[str] = typer.Option(..., "--member", help="A member's email, in turn order."),
) -> None:
    """Create a group, or redefine one: its members become exactly these, in this order."""
    with writing(context().sessions) as session:
        group = service.add_group(session=session, name=name, member_emails=member)
        members = service.group_members(session=session, group_id=group.id)
        typer.echo(f"group {group.name}: {', '.join(user.email for user in members)}")


@groups_app.command("list")
@guarded
def list_groups(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List groups with their members in turn order."""
    with context().sessions() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": group.id,
                "name": group.name,
                "members": [
                    user.email for user in service.group_members(session=session, group_id=group.id)
                ],
            }
            for group in service.list_groups(session=session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "members")
    for row in rows:
        table.add_row(str(row["id"]), row["name"], ", ".join(row["members"]))
    out.print(table)
