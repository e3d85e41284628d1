"""Throttles and sender caps, counted in shared rows so that every worker sees one total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cadenza.core.access import plan_limit
from cadenza.core.definition import Definition, Step
from cadenza.settings import Settings, get_settings
from cadenza.store.models import RateBucket, Sender, Sequence, User

# By step action and by outbox channel: what kind of sender each is paced on.
MESSAGE_SENDER = {
    "email": "email", "sms": "sms", "mms": "sms", "voicemail": "sms",
    "ringless_voicemail": "sms", "progressive_dialer": "sms", "preview_dialer": "sms",
}  # fmt: skip


@dataclass
class _Bucket:
    count: int
    added: int = 0


@dataclass(frozen=True)
class Cap:
    """One capacity a send uses: `limit` per `unit`, counted under `scope`; `reason` is what
    a hold says when it is spent."""

    scope: str
    limit: int
    unit: str  # second | hour | day
    reason: str


class Limits:
    """Capacity for one claiming transaction.

    The first look at a bucket locks its row (PostgreSQL) until the transaction commits, so
    concurrent workers take turns on a throttled sequence instead of overshooting it; on
    SQLite the writer lock already does that.
    """

    def __init__(self, session: Session, settings: Settings | None = None) -> None:
        self.session = session
        self.buckets: dict[tuple[str, datetime], _Bucket] = {}
        self.senders: dict[tuple[str, str], Sender | None] = {}
        self.owners: dict[int, tuple[int, str, int] | None] = {}
        self.plan_emails = (settings or get_settings()).plan_emails_per_day
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

    def owner_plan(self, sequence_id: int) -> tuple[int, str, int] | None:
        """The sequence owner's id, email and emails a day (plan limit), or None (no limit)."""
        if sequence_id not in self.owners:
            row = self.session.execute(
                select(User.id, User.email, User.role, User.max_emails_per_day)
                .join(Sequence, Sequence.owner_id == User.id)
                .where(Sequence.id == sequence_id)
            ).first()
            limit = plan_limit(row[3], row[2], self.plan_emails) if row else None
            self.owners[sequence_id] = (row[0], row[1], limit) if row and limit else None
        return self.owners[sequence_id]

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
        caps = sender_caps("sender", sender) if sender is not None else []
        if step.action == "email":
            caps += plan_caps(self.limits, "sender", self.sequence_id)
        return hold(self.limits, caps, now)


def sender_caps(prefix: str, sender: Sender, *, pace: bool = False) -> list[Cap]:
    """A sender's caps; `pace` adds the per-second rate, which governs sending rather than
    deciding steps."""
    caps = [
        Cap(f"{prefix}:{sender.address}:{unit[0]}", int(limit), unit, "")
        for limit, unit in (
            (sender.per_second if pace else None, "second"),
            (sender.per_hour, "hour"),
            (sender.per_day, "day"),
        )
        if limit
    ]
    return [
        Cap(c.scope, c.limit, c.unit, f"held: sender {sender.address} at {c.limit}/{c.unit}")
        for c in caps
    ]


def plan_caps(limits: Limits, prefix: str, sequence_id: int | None) -> list[Cap]:
    """The plan limit of a sequence's owner on the emails their sequences send a day."""
    plan = limits.owner_plan(sequence_id) if sequence_id is not None else None
    if plan is None:
        return []
    user_id, email, limit = plan
    reason = f"held: {email} at {limit} emails/day (plan limit)"
    return [Cap(f"{prefix}:plan:{user_id}:d", limit, "day", reason)]


def hold(limits: Limits, caps: list[Cap], now: datetime) -> tuple[datetime, str] | None:
    """Take one unit of every cap, or say when the first full one reopens, and why."""
    second = now.replace(microsecond=0)
    hour = second.replace(minute=0, second=0)
    windows = {
        "second": (second, timedelta(seconds=1)),
        "hour": (hour, timedelta(hours=1)),
        "day": (hour.replace(hour=0), timedelta(days=1)),
    }
    for cap in caps:
        start, length = windows[cap.unit]
        if not limits.has_room(cap.scope, start, cap.limit):
            return start + length, cap.reason
    limits.take_all([(cap.scope, windows[cap.unit][0], cap.limit) for cap in caps])
    return None


def sender_hold(
    limits: Limits, prefix: str, sender: Sender, now: datetime, *, pace: bool = False
) -> tuple[datetime, str] | None:
    """Take one unit of each of a sender's caps, or say when the first full one reopens."""
    return hold(limits, sender_caps(prefix, sender, pace=pace), now)
