"""`cadenza users limits EMAIL`: a user's own plan limits (docs/access.md, "Plan limits")."""

from __future__ import annotations

import typer

from cadenza.cli.app import BadValue, context, guarded, out, print_json, writing
from cadenza.cli.users import users_app

HELP = "A number (1 or more), or 'role' for the limit of the user's role."


def _limit(value: str | None, name: str) -> int | None:
    if value is None or value == "role":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadValue(f"{name} {value!r}: {HELP}") from None


@users_app.command("limits")
@guarded
def limits(
    email: str = typer.Argument(..., help="The user's email."),
    active_sequences: str | None = typer.Option(
        None, "--active-sequences", help="Active sequences they may own. " + HELP
    ),
    emails_per_day: str | None = typer.Option(
        None, "--emails-per-day", help="Sequence emails their sequences may send a day. " + HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show a user's plan limits, or set their own (which replace their role's)."""
    from cadenza.services.users.plans import set_plan_limits

    given = {
        "max_active_sequences": (active_sequences, "--active-sequences"),
        "max_emails_per_day": (emails_per_day, "--emails-per-day"),
    }
    changes = {key: _limit(value, flag) for key, (value, flag) in given.items() if value}
    ctx = context()
    with writing(ctx.sessions) as session:
        row = set_plan_limits(session=session, email=email, limits=changes, settings=ctx.settings)
    if as_json:
        print_json(row)
        return
    for key, label in (
        ("max_active_sequences", "active sequences"),
        ("max_emails_per_day", "emails a day"),
    ):
        source = "own" if row["own"][key] is not None else f"the {row['role']} role's"
        value = row[key] if row[key] is not None else "no limit"
        out.print(f"{row['email']}: {label}: {value} ({source})", markup=False, highlight=False)
