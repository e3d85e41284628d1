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
        bucket = self.buckets.get((scope, window))
        if bucket is None:
            bucket = _Bucket(self._load(scope, window))
            self.buckets[(scope, window)] = bucket
        if bucket.count + bucket.added >= limit:
            return False
        bucket.added += 1
        return True

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
        hour = now.replace(minute=0, second=0, microsecond=0)
        if sender.per_hour and not self.limits.take(f"sender:{address}:h", hour, sender.per_hour):
            return hour + timedelta(hours=1), f"held: sender {address} at {sender.per_hour}/hour"
        day = hour.replace(hour=0)
        if sender.per_day and not self.limits.take(f"sender:{address}:d", day, sender.per_day):
            return day + timedelta(days=1), f"held: sender {address} at {sender.per_day}/day"
        return None
