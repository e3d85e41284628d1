"""`cadenza subscriptions add|list|show|deliveries|test|on|off|remove`: events out to a CRM."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cadenza.cli.app import app, context, guarded, id_argument, out, print_json
from cadenza.store.db import writing

subscriptions_app = typer.Typer(
    help="Webhook subscriptions: history events POSTed, signed, to a CRM.", no_args_is_help=True
)
app.add_typer(subscriptions_app, name="subscriptions")

ID = "The subscription's id (see `subscriptions list`)."


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _describe(row: dict[str, Any]) -> str:
    state = "on" if row["active"] else f"off ({row['disabled_reason'] or 'turned off'})"
    types = ", ".join(row["types"]) or "every event"
    sequences = ", ".join(row["sequences"]) or "every sequence"
    return (
        f"subscription {row['id']} {row['url']} [{state}]: {types}; {sequences}; "
        f"{row['delivered']} delivered, {row['pending']} pending, {row['failed']} failed"
    )


@subscriptions_app.command("add")
@guarded
def add(
    url: str = typer.Argument(..., help="Where events are POSTed."),
    name: str = typer.Option("", "--name", help="A name people know it by."),
    types: list[str] = typer.Option(
        [], "--type", help="An event type it takes (repeatable); none: every type."
    ),
    sequences: list[str] = typer.Option(
        [], "--sequence", help="A sequence whose events it takes (repeatable); none: all."
    ),
) -> None:
    """Subscribe a URL to history events; prints the signing secret the receiver checks."""
    from cadenza.services import subscriptions

    ctx = context()
    with writing(ctx.sessions) as session:
        created = subscriptions.create(
            session=session,
            url=url,
            now=ctx.clock.now(),
            types=types,
            sequences=sequences,
            name=name,
            allow=ctx.settings.webhook_allow,
            viewer=ctx.viewer,
        )
        row = subscriptions.describe(session, created)
    _say("added " + _describe(row))
    _say(f"signing secret (Standard Webhooks): {row['secret']}")


@subscriptions_app.command("list")
@guarded
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """List subscriptions and how their deliveries stand."""
    from cadenza.services import subscriptions

    ctx = context()
    with ctx.sessions() as session:
        rows = subscriptions.list_subscriptions(session=session, viewer=ctx.viewer)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "url", "on", "types", "sequences", "delivered", "pending", "failed")
    for row in rows:
        table.add_row(
            str(row["id"]), row["name"], row["url"], "yes" if row["active"] else "no",
            ", ".join(row["types"]) or "all", ", ".join(row["sequences"]) or "all",
            str(row["delivered"]), str(row["pending"]), str(row["failed"]),
        )  # fmt: skip
    out.print(table)


@subscriptions_app.command("deliveries")
@guarded
def deliveries(
    subscription_id: int = id_argument(ID),
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="The newest this many."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
) -> None:
    """The delivery log of a subscription, newest first."""
    from cadenza.errors import ValidationFailed
    from cadenza.services import subscriptions

    if status not in (None, "pending", "delivered", "failed"):
        raise ValidationFailed(f"--status {status}: pending, delivered or failed")
    ctx = context()
    with ctx.sessions() as session:
        rows = subscriptions.list_deliveries(
            session=session, subscription_id=subscription_id, limit=limit, status=status,
            viewer=ctx.viewer,
        )  # fmt: skip
    if as_json:
        print_json(rows)
        return
    table = Table("id", "event", "status", "attempts", "answer", "ms", "when", "error")
    for row in rows:
        table.add_row(
            str(row["id"]), str(row["event_id"] or "test"), row["status"], str(row["attempts"]),
            str(row["response_status"] or ""), str(row["duration_ms"] or ""),
            row["last_attempt_at"] or "", row["error"] or "",
        )  # fmt: skip
    out.print(table)


@subscriptions_app.command("test")
@guarded
def test_command(subscription_id: int = id_argument(ID)) -> None:
    """Send a `webhook.test` event now and say what the receiver answered."""
    from cadenza.services import subscriptions

    ctx = context()
    with writing(ctx.sessions) as session:
        row = subscriptions.send_test(
            session=session, subscription_id=subscription_id, now=ctx.clock.now(),
            settings=ctx.settings, viewer=ctx.viewer,
        )  # fmt: skip
    if row["status"] != "delivered":
        _say(f"test to subscription {subscription_id} failed: {row['error']}")
        raise typer.Exit(1)
    _say(f"test delivered: HTTP {row['response_status']} in {row['duration_ms']} ms")


def _switch(subscription_id: int, active: bool) -> None:
    from cadenza.services import subscriptions

    ctx = context()
    with writing(ctx.sessions) as session:
        changed = subscriptions.change(
            session=session, subscription_id=subscription_id, active=active,
            allow=ctx.settings.webhook_allow, viewer=ctx.viewer,
        )  # fmt: skip
        _say(("turned on " if active else "turned off ") + _describe(
            subscriptions.describe(session, changed)))  # fmt: skip


@subscriptions_app.command("on")
@guarded
def on(subscription_id: int = id_argument(ID)) -> None:
    """Turn a subscription on again."""
    _switch(subscription_id, True)


@subscriptions_app.command("off")
@guarded
def off(subscription_id: int = id_argument(ID)) -> None:
    """Turn a subscription off: it takes no new events; what already waited goes when on."""
    _switch(subscription_id, False)


@subscriptions_app.command("remove")
@guarded
def remove(subscription_id: int = id_argument(ID)) -> None:
    """Delete a subscription and its delivery log."""
    from cadenza.services import subscriptions

    ctx = context()
    with writing(ctx.sessions) as session:
        subscriptions.remove(session=session, subscription_id=subscription_id, viewer=ctx.viewer)
    _say(f"removed subscription {subscription_id}")
