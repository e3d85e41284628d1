"""`cadenza senders show|dkim|provider|warmup|stagger|pause|resume`: how a mailbox sends."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer

from cadenza.cli.app import context, guarded, print_json
from cadenza.cli.senders import senders_app
from cadenza.errors import ValidationFailed
from cadenza.store.db import writing

NAME = typer.Argument(..., help="The sender's id or address.")


def _say(text: str) -> None:
    typer.echo(text)  # unwrapped: a DNS record is copied as one line


def describe_health(row: dict[str, Any]) -> str:
    """One line of a mailbox's health."""
    figures = row.get("health")
    if not figures:
        return "health: -"
    return (
        f"health over {figures['window_days']} days: {figures['sent']} sent, "
        f"bounces {figures['bounce_rate']:.2%} ({figures['bounces']}), "
        f"complaints {figures['complaint_rate']:.2%} ({figures['complaints']}), "
        f"unsubscribes {figures['unsubscribe_rate']:.2%} ({figures['unsubscribes']})"
    )


@senders_app.command("show")
@guarded
def show(
    name: str = NAME,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A sender: caps, provider, DKIM, warm-up, stagger, pause and health."""
    from cadenza.services import senders

    ctx = context()
    with ctx.sessions() as session:
        sender = senders.find_sender(session=session, name=name)
        users = senders.assigned_users(session=session, sender_id=sender.id)
        figures = senders.health_figures(session, sender, ctx.clock.now(), ctx.settings)
        row = senders.sender_row(sender, users, figures)
        record = senders.dkim_record(sender)
    row["dkim_record"] = {"name": record[0], "value": record[1]} if record else None
    if as_json:
        print_json(row)
        return
    for line in _lines(row):
        _say(line)


def _lines(row: dict[str, Any]) -> list[str]:
    config = ", ".join(f"{k}={v}" for k, v in row["provider_config"].items())
    lines = [
        f"sender {row['id']}: {row['kind']} {row['address']} {row['name']}".rstrip(),
        f"provider: {row['provider']}" + (f" ({config})" if config else ""),
        "status: " + (f"paused: {row['paused_reason']}" if row["paused"] else "sending"),
    ]
    if row["kind"] == "email":
        lines.append(describe_health(row))
        dkim = row["dkim_record"]
        lines.append(f"dkim: {dkim['name']} TXT {dkim['value']}" if dkim else "dkim: none")
    if row["warmup"]:
        lines.append(f"warm-up: {row['warmup']}")
    if row["stagger_seconds"]:
        lines.append(f"stagger: up to {row['stagger_seconds']}s")
    return lines


@senders_app.command("dkim")
@guarded
def dkim(
    name: str = NAME,
    selector: str = typer.Option("cadenza", "--selector", help="The DKIM selector."),
) -> None:
    """Make a DKIM key (RSA 2048) for a mailbox sending through SMTP; print its DNS record."""
    from cadenza.services import senders

    ctx = context()
    with writing(ctx.sessions) as session:
        sender = senders.find_sender(session=session, name=name)
        record, value = senders.make_dkim(session=session, sender_id=sender.id, selector=selector)
    _say(f"Publish this TXT record, then mail from {sender.address} is signed:")
    _say(f"{record} TXT")
    _say(value)


@senders_app.command("provider")
@guarded
def provider(
    name: str = NAME,
    provider_name: str = typer.Argument(..., help="smtp, mailgun, sendgrid, ses or postmark."),
    setting: list[str] = typer.Option(
        [],
        "--set",
        help="KEY=VALUE (repeatable), e.g. domain=mg.acme.com, api_key_env=MAILGUN_API_KEY.",
    ),
) -> None:
    """Send a mailbox's email through a provider; secrets stay in the variables named."""
    from cadenza.services import senders

    config: dict[str, Any] = {}
    for item in setting:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed(f"--set takes KEY=VALUE, not {item!r}")
        config[key.strip()] = value.strip()
    ctx = context()
    with writing(ctx.sessions) as session:
        sender = senders.find_sender(session=session, name=name)
        senders.set_provider(
            session=session, sender_id=sender.id, provider=provider_name, config=config
        )
    _say(f"sender {sender.address} sends through {provider_name}")


@senders_app.command("warmup")
@guarded
def warmup(
    name: str = NAME,
    start: int | None = typer.Option(None, "--start", min=1, help="Emails on the first day."),
    step: int = typer.Option(0, "--step", min=0, help="More each period."),
    every: int = typer.Option(1, "--every-days", min=1, help="Days in a period."),
    since: str | None = typer.Option(None, "--since", help="First day (YYYY-MM-DD; today)."),
    off: bool = typer.Option(False, "--off", help="End the ramp."),
) -> None:
    """A warm-up ramp: the daily cap starts low and grows (up to the sender's per-day cap)."""
    from cadenza.services import senders

    if not off and start is None:
        raise ValidationFailed("give --start N (and --step, --every-days), or --off")
    try:
        first = date.fromisoformat(since) if since else None
    except ValueError:
        raise ValidationFailed(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
    ctx = context()
    first = first or ctx.clock.now().date()
    with writing(ctx.sessions) as session:
        sender = senders.find_sender(session=session, name=name)
        senders.set_warmup(
            session=session, sender_id=sender.id, start=None if off else start,
            step=step, since=first, every_days=every,
        )  # fmt: skip
    _say(f"sender {sender.address}: " + ("no warm-up" if off else f"warm-up {sender.warmup}"))


@senders_app.command("stagger")
@guarded
def stagger(
    name: str = NAME,
    seconds: float = typer.Argument(..., help="Each email waits up to this long (0: none)."),
) -> None:
    """Spread bursts: each email waits a share of SECONDS drawn from its key."""
    from cadenza.services import senders

    ctx = context()
    with writing(ctx.sessions) as session:
        sender = senders.find_sender(session=session, name=name)
        senders.set_stagger(session=session, sender_id=sender.id, seconds=seconds or None)
    _say(f"sender {sender.address}: stagger " + (f"up to {seconds}s" if seconds else "off"))


@senders_app.command("pause")
@guarded
def pause(
    name: str = NAME,
    reason: str = typer.Option("", "--reason", help="Why (kept in history)."),
) -> None:
    """Pause a sender: its steps and queued messages wait until it is resumed."""
    _set_paused(name, True, reason)


@senders_app.command("resume")
@guarded
def resume(name: str = NAME) -> None:
    """Resume a paused sender."""
    _set_paused(name, False, "")


def _set_paused(name: str, paused: bool, reason: str) -> None:
    from cadenza.services import senders

    ctx = context()
    with writing(ctx.sessions) as session:
        sender = senders.find_sender(session=session, name=name)
        senders.set_paused(
            session=session, sender_id=sender.id, paused=paused, now=ctx.clock.now(), reason=reason
        )
    _say(f"sender {sender.address} " + ("paused" if paused else "resumed"))
