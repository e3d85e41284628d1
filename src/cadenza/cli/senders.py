"""`cadenza senders list|add|set|remove|assign`: mailboxes and lines, their caps and users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from cadenza.cli.app import app, context, guarded, id_argument, out, writing
from cadenza.cli.listing import all_option, limit_option, show_list

senders_app = typer.Typer(
    help="Senders: email mailboxes and SMS lines with their caps.", no_args_is_help=True
)
app.add_typer(senders_app, name="senders")

PER_SECOND = typer.Option(None, "--per-second", help="Pace: sends a second (e.g. 0.5).")
PER_HOUR = typer.Option(None, "--per-hour", help="At most this many an hour.")
PER_DAY = typer.Option(None, "--per-day", help="At most this many a (UTC) day.")


def _caps(per_second: float | None, per_hour: int | None, per_day: int | None) -> dict[str, Any]:
    given = {"per_second": per_second, "per_hour": per_hour, "per_day": per_day}
    return {cap: value for cap, value in given.items() if value is not None}


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _describe(row: dict[str, Any]) -> str:
    caps = [
        f"{row[cap]}/{cap.removeprefix('per_')}"
        for cap in ("per_second", "per_hour", "per_day")
        if row[cap] is not None
    ]
    users = ", ".join(row["users"]) or "nobody"
    return (
        f"sender {row['id']}: {row['kind']} {row['address']}"
        f" ({', '.join(caps) or 'no caps'}; users: {users})"
    )


@senders_app.command("list")
@guarded
def list_command(
    limit: int = limit_option(),
    everything: bool = all_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """List mailboxes and lines with their caps and users."""
    from cadenza.services.senders.listing import page_senders

    ctx = context()
    now = ctx.clock.now()
    with ctx.sessions() as session:
        show_list(
            lambda cursor, size: page_senders(session=session, limit=size, cursor=cursor, now=now),
            limit=limit,
            everything=everything,
            as_json=as_json,
            cells=_sender_cells,
            columns=COLUMNS,
        )


COLUMNS = (
    "id", "kind", "address", "name", "per second", "per hour", "per day", "users",
    "provider", "status", "bounces", "complaints", "unsubscribes",
)  # fmt: skip


def _sender_cells(row: Mapping[str, Any]) -> list[str]:
    caps = [row[c] for c in ("per_second", "per_hour", "per_day")]
    cells = ["" if value is None else str(value) for value in caps]
    return [
        str(row["id"]),
        row["kind"],
        row["address"],
        row["name"],
        *cells,
        ", ".join(row["users"]),
        row["provider"] if row["kind"] == "email" else "",
        "paused" if row["paused"] else "sending",
        *_rates(row),
    ]


def _rates(row: Mapping[str, Any]) -> list[str]:
    figures = row.get("health")
    if not figures:
        return ["", "", ""]
    return [
        f"{figures[name + '_rate']:.2%} ({figures[name + 's']})"
        for name in ("bounce", "complaint", "unsubscribe")
    ]


@senders_app.command("add")
@guarded
def add(
    kind: str = typer.Argument(..., help="email or sms."),
    address: str = typer.Argument(..., help="The mailbox's address or the line's number."),
    name: str = typer.Option("", "--name", help="A name people know it by."),
    per_second: float | None = PER_SECOND,
    per_hour: int | None = PER_HOUR,
    per_day: int | None = PER_DAY,
) -> None:
    """Describe a mailbox or line and its caps."""
    from cadenza.services.senders import add_sender, sender_row

    ctx = context()
    with writing(ctx.sessions) as session:
        sender = add_sender(
            session=session,
            kind=kind,
            address=address,
            name=name,
            caps=_caps(per_second, per_hour, per_day),
            default_region=ctx.settings.default_region,
        )
        _say("added " + _describe(sender_row(sender, [])))


@senders_app.command("set")
@guarded
def set_command(
    sender_id: int = id_argument("The sender's id (see `senders list`)."),
    name: str | None = typer.Option(None, "--name", help="A new name."),
    per_second: float | None = PER_SECOND,
    per_hour: int | None = PER_HOUR,
    per_day: int | None = PER_DAY,
    clear: list[str] = typer.Option(
        [], "--clear", help="Lift a cap: per_second, per_hour or per_day (repeatable)."
    ),
) -> None:
    """Change a sender's name or caps."""
    from cadenza.services.senders import assigned_users, change_sender, sender_row

    caps = _caps(per_second, per_hour, per_day) | dict.fromkeys(clear)
    ctx = context()
    with writing(ctx.sessions) as session:
        sender = change_sender(session=session, sender_id=sender_id, name=name, caps=caps)
        users = assigned_users(session=session, sender_id=sender.id)
        _say("changed " + _describe(sender_row(sender, users)))


@senders_app.command("remove")
@guarded
def remove(sender_id: int = id_argument("The sender's id (see `senders list`).")) -> None:
    """Delete a sender: its address then sends without caps."""
    from cadenza.services.senders import remove_sender

    ctx = context()
    with writing(ctx.sessions) as session:
        sender = remove_sender(session=session, sender_id=sender_id)
        _say(f"removed sender {sender.id} ({sender.kind} {sender.address})")


@senders_app.command("assign")
@guarded
def assign(
    sender_id: int = id_argument("The sender's id (see `senders list`)."),
    user: list[str] = typer.Option([], "--user", help="A user's email (repeatable); none: nobody."),
) -> None:
    """Assign a sender to exactly these users."""
    from cadenza.services.senders import assign_sender

    ctx = context()
    with writing(ctx.sessions) as session:
        users = assign_sender(session=session, sender_id=sender_id, emails=user)
    _say(f"sender {sender_id} assigned to {', '.join(users) or 'nobody'}")
