"""Throttles and sender caps, counted in shared rows so that every worker sees one total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cadenza.core.definition import Definition, Step
from cadenza.store.models import RateBucket, Sender

MESSAGE_SENDER = {"email": "email", "sms": "sms", "mms": "sms", "voicemail": "sms"}


@dataclass
class _Bucket:
    count: int
    added: int = 0


class Limits:
    """Capacity for one claiming transaction.

    The first look at a bucket locks its row (PostgreSQL) until the transaction commits, so
    concurrent workers take turns on a throttled sequence instead of overshooting it; on
    SQLite the writer lock already does that.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.buckets: dict[tuple[str, datetime], _Bucket] = {}
        self.senders: dict[tuple[str, str], Sender | None] = {}
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def for_sequence(self, sequence_id: int, definition: Definition) -> SequenceLimiter:
        return SequenceLimiter(self, sequence_id, definition)

    def take(self, scope: str, window: datetime, limit: int) -> bool:
        """Use one unit of a window's capacity; False when it is spent."""
        return self.take_all([(scope, window, limit)])

    def take_all(self, windows: list[tuple[str, datetime, int]]) -> bool:
        """Use one unit of each window only when every one of them has room."""
        if not all(self.has_room(scope, window, limit) for scope, window, limit in windows):
            return False
        for scope, window, _limit in windows:
            self._bucket(scope, window).added += 1
        return True

    def has_room(self, scope: str, window: datetime, limit: int) -> bool:
        bucket = self._bucket(scope, window)
        return bucket.count + bucket.added < limit

    def _bucket(self, scope: str, window: datetime) -> _Bucket:
        bucket = self.buckets.get((scope, window))
        if bucket is None:
            bucket = _Bucket(self._load(scope, window))
            self.buckets[(scope, window)] = bucket
        return bucket

    def _load(self, scope: str, window: datetime) -> int:
        insert = pg_insert if self.postgres else sqlite_insert
        self.session.execute(
            insert(RateBucket)
            .values(scope=scope, window_start=window, count=0)
            .on_conflict_do_nothing()
        )
        query = select(RateBucket.count).where(
            RateBucket.scope == scope, RateBucket.window_start == window
        )
        if self.postgres:
            query = query.with_for_update()
        return int(self.session.execute(query).scalar_one())

    def sender(self, kind: str, address: str) -> Sender | None:
        key = (kind, address)
        if key not in self.senders:
            self.senders[key] = self.session.execute(
                select(Sender).where(Sender.kind == kind, Sender.address == address)
            ).scalar_one_or_none()
        return self.senders[key]

    def flush(self) -> None:
        """Write the units used back to their rows (still under this transaction's locks)."""
        for (scope, window), bucket in self.buckets.items():
            if bucket.added:
                self.session.execute(
                    update(RateBucket)
                    .where(RateBucket.scope == scope, RateBucket.window_start == window)
                    .values(count=RateBucket.count + bucket.added)
                )
                bucket.count += bucket.added
                bucket.added = 0


class SequenceLimiter:
    """The machine's Limiter for one sequence: its throttle, then its sender's caps."""

    def __init__(self, limits: Limits, sequence_id: int, definition: Definition) -> None:
        self.limits, self.sequence_id, self.definition = limits, sequence_id, definition

    def hold(self, step: Step, now: datetime) -> tuple[datetime, str] | None:
        per_minute = self.definition.limits.throttle_per_minute
        if per_minute:
            minute = now.replace(second=0, microsecond=0)
            if not self.limits.take(f"seq:{self.sequence_id}", minute, per_minute):
                return minute + timedelta(minutes=1), f"throttled: {per_minute} steps/minute"
        return self._sender_hold(step, now)

    def _sender_hold(self, step: Step, now: datetime) -> tuple[datetime, str] | None:
        kind = MESSAGE_SENDER.get(step.action)
        if kind is None:
            return None
        address = getattr(step, "sender", None) or getattr(self.definition.senders, kind)
        sender = self.limits.sender(kind, address) if address else None
        if sender is None:
            return None
        return sender_hold(self.limits, "sender", sender, now)


def sender_hold(
    limits: Limits, prefix: str, sender: Sender, now: datetime, *, pace: bool = False
) -> tuple[datetime, str] | None:
    """Take one unit of each of a sender's caps, or say when the first full one reopens.

    `pace` adds the per-second rate, which governs sending rather than deciding steps.
    """
    second = now.replace(microsecond=0)
    hour = second.replace(minute=0, second=0)
    windows = [
        (f"{prefix}:{sender.address}:{unit[0]}", start, int(limit), length, unit)
        for limit, start, length, unit in (
            (sender.per_second if pace else None, second, timedelta(seconds=1), "second"),
            (sender.per_hour, hour, timedelta(hours=1), "hour"),
            (sender.per_day, hour.replace(hour=0), timedelta(days=1), "day"),
        )
        if limit
    ]
    for scope, start, limit, length, unit in windows:
        if not limits.has_room(scope, start, limit):
            return start + length, f"held: sender {sender.address} at {limit}/{unit}"
    limits.take_all([(scope, start, limit) for scope, start, limit, _l, _u in windows])
    return None
