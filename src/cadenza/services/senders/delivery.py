"""How a sender's email goes out, and what holds it at the last moment: a pause, a stagger.

A paused sender's queued messages wait (an hour at a time) until it is resumed; a sender
with a stagger spreads a burst over `stagger_seconds`: each message waits a fraction of it
drawn from its key, so the same message always waits the same (and tests are repeatable).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import RowMapping

from cadenza.channels.providers import ProviderRoute
from cadenza.core.last_check import Verdict
from cadenza.store.models import Sender

if TYPE_CHECKING:
    from cadenza.services.senders.limits import Limits

PAUSED_RECHECK = timedelta(hours=1)
MAX_STAGGER = 3600.0


def delivery_hold(sender: Sender, row: RowMapping, now: datetime) -> Verdict | None:
    """Defer a message of a paused sender, or one whose stagger has not passed yet."""
    if sender.paused_at is not None:
        reason = f"paused: sender {sender.address} is paused ({sender.paused_reason or 'by hand'})"
        return Verdict("defer", reason, now + PAUSED_RECHECK)
    if sender.stagger_seconds and row["channel"] == "email":
        due = row["created_at"] + timedelta(seconds=stagger(row["key"], sender.stagger_seconds))
        if now < due:
            reason = f"held: sender {sender.address} staggers sends over {sender.stagger_seconds}s"
            return Verdict("defer", reason, due)
    return None


def stagger(key: str, seconds: float) -> float:
    """The wait of the message with `key`: a fraction of `seconds` fixed by the key."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return min(seconds, MAX_STAGGER) * int.from_bytes(digest, "big") / 2**64


def route_of(sender: Sender) -> ProviderRoute:
    """How this sender's email goes out."""
    config = tuple(sorted((sender.provider_config or {}).items()))
    return ProviderRoute(sender.provider or "smtp", config, sender.dkim_selector, sender.dkim_key)


def routes_of(limits: Limits) -> dict[str, ProviderRoute]:
    """The routes of the email senders a claim looked at that need more than the relay."""
    return {
        address: route_of(sender)
        for (kind, address), sender in limits.senders.items()
        if kind == "email"
        and sender is not None
        and ((sender.provider or "smtp") != "smtp" or sender.dkim_key)
    }


def warmup_cap(sender: Sender, now: datetime) -> tuple[int, int] | None:
    """(the day's cap, the ramp's day number) while a warm-up ramp is running, else None."""
    ramp: dict[str, Any] = sender.warmup or {}
    if not ramp.get("since"):
        return None
    day = (now.date() - date.fromisoformat(str(ramp["since"]))).days
    if day < 0:
        return 0, 0
    every = max(1, int(ramp.get("every_days", 1)))
    cap = int(ramp["start"]) + int(ramp.get("step", 0)) * (day // every)
    ceiling = sender.per_day or ramp.get("max")
    if ceiling is not None and cap >= int(ceiling):
        return None  # ramp done: the sender's own cap governs
    return cap, day + 1
