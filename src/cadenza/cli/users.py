"""`cadenza users …` and `cadenza groups …`: the people who work sequences."""

from __future__ import annotations

import getpass
import sys

import typer

from cadenza.cli.app import app, context, err, guarded, writing
from cadenza.cli.listing import all_option, columns_of, limit_option, show_list
from cadenza.services import users as service
from cadenza.services.users import links

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
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the user's password from standard input (its first line), to log in to the UI.",
    ),
) -> None:
    """Add a user (without a password, `users invite` lets them choose one)."""
    ctx = context()
    password = _read_password() if password_stdin else None
    with writing(ctx.sessions) as session:
        user = service.add_user(
            session=session,
            email=email,
            name=name,
            role=role,
            phone=phone,
            now=ctx.clock.now(),
            default_region=ctx.settings.default_region,
            password=password,
        )
        login = "may log in" if password is not None else "no password yet: `cadenza users invite`"
        typer.echo(f"added user {user.email} ({user.role}; {login})")


def _read_password() -> str:
    """The first line of standard input: a password never appears in the command line."""
    if sys.stdin.isatty():
        err.print("Password (then Enter): ", end="", markup=False, highlight=False)
        return getpass.getpass(prompt="")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


@users_app.command("invite")
@guarded
def invite(email: str = typer.Argument(..., help="An existing user's email.")) -> None:
    """Email a user a single-use link to choose their password (it also prints here)."""
    _send_link(email, "invite")


@users_app.command("reset-password")
@guarded
def reset_password(email: str = typer.Argument(..., help="An existing user's email.")) -> None:
    """Email a user a single-use link to set a new password (it also prints here)."""
    _send_link(email, "reset")


def _send_link(email: str, purpose: str) -> None:
    ctx = context()
    with writing(ctx.sessions) as session:
        link = links.issue(
            session=session,
            email=email,
            purpose=purpose,
            now=ctx.clock.now(),
            settings=ctx.settings,
        )
    what = "an invitation" if purpose == "invite" else "a password reset link"
    typer.echo(
        f"queued {what} for {link.email}: the dispatcher (`cadenza serve` or `cadenza worker`) "
        f"emails it from {ctx.settings.mail_from}"
    )
    # The operator may hand the link over another way (the database is theirs anyway).
    typer.echo(f"link, usable once until {link.expires_at.isoformat()}: {link.url}")


@users_app.command("list")
@guarded
def list_users(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List users by email."""
    from cadenza.services.users.listing import page_users

    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_users(session=session, limit=size, cursor=cursor),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=columns_of("id", "email", "name", "role", "phone"),
            columns=("id", "email", "name", "role", "phone"),
        )


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
def list_groups(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List groups by name with their members in turn order."""
    from cadenza.services.users.listing import page_groups

    with context().sessions() as session:
        show_list(
            lambda cursor, size: page_groups(session=session, limit=size, cursor=cursor),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=lambda row: [str(row["id"]), row["name"], ", ".join(row["members"])],
            columns=("id", "name", "members"),
        )
