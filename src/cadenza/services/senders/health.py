"""Sender health: bounce, complaint and unsubscribe rates over a rolling window, and the pause.

Counts are kept per mailbox and UTC day in the shared rate rows (`health:<address>:<what>`),
so a rate over the window is a sum of a few rows, whatever the size of history. Sends are
counted as the dispatcher leases them; bounces, complaints and unsubscribes as history
receives them (whoever records them: inbound mail, provider events, unsubscribe links),
counted against the mailbox of the message they are about. A mailbox past a threshold,
with enough sends in the window to judge, is paused with the reason in history.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cadenza.channels.outgoing import bare_address
from cadenza.core.decisions import HistoryEntry
from cadenza.settings import Settings
from cadenza.store.models import Event, Message, RateBucket, Sender

# History event -> what it counts as; a complaint is also an unsubscribe, counted once.
WINDOW_DAYS = Settings.model_fields["health_window_days"].default
COUNTED = {
    "bounced": "bounce",
    "complained": "complaint",
    "complaint": "complaint",
    "spam_complaint": "complaint",
    "unsubscribed": "unsubscribe",
}
PAUSED = "sender_paused"
NOTED = "cadenza.health.noted"  # session.info: mailboxes with new bounces or complaints


@dataclass(frozen=True)
class Health:
    """A mailbox's counts and rates over the window."""

    window_days: int
    sent: int
    bounces: int
    complaints: int
    unsubscribes: int
    bounce_rate: float
    complaint_rate: float
    unsubscribe_rate: float

    def as_json(self) -> dict[str, Any]:
        """The figures as listings show them."""
        return asdict(self)


def count_sends(session: Session, addresses: Iterable[str | None], now: datetime) -> None:
    """Count sends against their mailboxes for today (one statement a mailbox)."""
    for address, count in Counter(a for a in addresses if a).items():
        _add(session, _scope(address, "sent"), _day(now), count)


def note_history(session: Session, rows: list[dict[str, Any]]) -> None:
    """Count the bounces, complaints and unsubscribes among history rows being written."""
    for row in rows:
        what = COUNTED.get(row["type"])
        if what is None:
            continue
        data = row.get("data") or {}
        if what == "unsubscribe" and data.get("complaint"):
            continue  # the complaint that caused it was counted
        address = data.get("sender") or _sender_of(session, data.get("message_key"))
        if address:
            note(session, str(address), what, row["time"])


def note(session: Session, address: str, what: str, now: datetime) -> None:
    """Count one bounce, complaint or unsubscribe for a mailbox; `check_noted` judges it."""
    _add(session, _scope(address, what), _day(now), 1)
    if what in ("bounce", "complaint"):
        session.info.setdefault(NOTED, {})[address] = now


def check_noted(session: Session, settings: Settings) -> list[str]:
    """Judge the mailboxes that got a bounce or complaint in this transaction; the paused."""
    noted: dict[str, datetime] = session.info.pop(NOTED, {})
    paused = []
    for address, now in noted.items():
        if check(session, address, now, settings) is not None:
            paused.append(address)
    return paused


def health_of(
    session: Session, address: str, now: datetime, settings: Settings | None = None
) -> Health:
    """A mailbox's figures over the rolling window ending today."""
    days = settings.health_window_days if settings is not None else WINDOW_DAYS
    since = _day(now) - timedelta(days=days - 1)
    scopes = {
        _scope(address, what): what for what in ("sent", "bounce", "complaint", "unsubscribe")
    }
    counts: Counter[str] = Counter()
    query = select(RateBucket.scope, RateBucket.count).where(
        RateBucket.scope.in_(scopes), RateBucket.window_start >= since
    )
    for scope, count in session.execute(query):
        counts[scopes[scope]] += count
    sent = counts["sent"]
    return Health(
        days,
        sent,
        counts["bounce"],
        counts["complaint"],
        counts["unsubscribe"],
        _rate(counts["bounce"], sent),
        _rate(counts["complaint"], sent),
        _rate(counts["unsubscribe"], sent),
    )


def check(session: Session, address: str, now: datetime, settings: Settings) -> str | None:
    """Pause the mailbox when a rate is past its threshold; the reason, when it was paused."""
    sender = session.scalar(
        select(Sender).where(Sender.kind == "email", Sender.address == mailbox(address))
    )
    if sender is None or sender.paused_at is not None:
        return None
    figures = health_of(session, address, now, settings)
    reason = verdict(figures, settings)
    if reason is not None:
        pause(session, sender, reason, now, figures=figures.as_json())
    return reason


def verdict(figures: Health, settings: Settings) -> str | None:
    """Why these figures pause a mailbox, or None (too few sends to judge counts as None)."""
    if figures.sent < settings.health_min_sends:
        return None
    window = f"over {figures.window_days} days"
    if figures.complaint_rate >= settings.health_max_complaint_rate:
        return (
            f"complaint rate {figures.complaint_rate:.2%} ({figures.complaints} of "
            f"{figures.sent} sent {window}) reached {settings.health_max_complaint_rate:.2%}"
        )
    if figures.bounce_rate >= settings.health_max_bounce_rate:
        return (
            f"bounce rate {figures.bounce_rate:.2%} ({figures.bounces} of {figures.sent} sent "
            f"{window}) reached {settings.health_max_bounce_rate:.2%}"
        )
    return None


def pause(
    session: Session,
    sender: Sender,
    reason: str,
    now: datetime,
    *,
    actor: str = "system",
    figures: dict[str, Any] | None = None,
) -> None:
    """Pause a sender: its steps and queued messages wait; history tells administrators."""
    from cadenza.services import history  # history counts through this module

    sender.paused_at, sender.paused_reason = now, reason
    session.flush()
    data: dict[str, Any] = {"sender": sender.address}
    if figures:
        data["health"] = figures
    entry = HistoryEntry(PAUSED, now, None, f"sender {sender.address} paused: {reason}", data)
    history.write(session, [history.row(history.Subject(None), entry, actor)])


def resume(session: Session, sender: Sender, now: datetime, *, actor: str = "system") -> None:
    """Lift a pause; history keeps who did it."""
    from cadenza.services import history

    if sender.paused_at is None:
        return
    sender.paused_at, sender.paused_reason = None, None
    session.flush()
    history.record(
        session,
        history.Subject(None),
        "sender_resumed",
        now,
        reason=f"sender {sender.address} resumed",
        actor=actor,
        sender=sender.address,
    )


def pauses(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest automatic and manual pauses, newest first (the administrators' notice)."""
    query = (
        select(Event.time, Event.reason, Event.data, Event.actor)
        .where(Event.type == PAUSED)
        .order_by(Event.id.desc())
        .limit(limit)
    )
    return [
        {"time": t, "reason": r, "sender": (d or {}).get("sender"), "actor": a}
        for t, r, d, a in session.execute(query)
    ]


def _sender_of(session: Session, key: object) -> str | None:
    if not key:
        return None
    return session.scalar(select(Message.sender).where(Message.key == str(key)))


def _rate(count: int, sent: int) -> float:
    return round(count / sent, 6) if sent else 0.0


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def mailbox(address: str) -> str:
    """The mailbox an address names as senders store it (`Ana <A@X.com>` is `a@x.com`)."""
    return bare_address(address.strip()).lower()


def _scope(address: str, what: str) -> str:
    address = mailbox(address)
    # A rate row's scope holds 200 characters: a very long address goes by its digest.
    if len(address) > 150:
        address = hashlib.sha256(address.encode()).hexdigest()
    return f"health:{address}:{what}"


def _add(session: Session, scope: str, window: datetime, count: int) -> None:
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    statement = insert(RateBucket).values(scope=scope, window_start=window, count=count)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RateBucket.scope, RateBucket.window_start],
            set_={"count": RateBucket.count + count},
        )
    )


__all__ = ["Health", "check", "count_sends", "health_of", "note", "pause", "resume"]
