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
from cadenza.services.senders.delivery import warmup_cap
from cadenza.settings import Settings, get_settings
from cadenza.store.models import Message, RateBucket, Sender, Sequence, User

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

    def thread_sender(self, enrollment_id: int) -> str | None:
        """The mailbox of the enrollment's latest email, if it sent one."""
        return self.session.scalar(
            select(Message.sender)
            .where(Message.enrollment_id == enrollment_id, Message.channel == "email")
            .order_by(Message.id.desc())
            .limit(1)
        )

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
    """The machine's Limiter for one sequence: its throttle, then its sender's caps.

    With several mailboxes (`senders.email_rotation`) an email step takes the first one,
    in an order that starts at a place fixed by the enrollment, that is not paused and has
    room; an enrollment that already wrote to its contact stays with the mailbox it used.
    `begin` names the enrollment about to be decided; `chosen` is the mailbox picked for it.
    """

    def __init__(self, limits: Limits, sequence_id: int, definition: Definition) -> None:
        self.limits, self.sequence_id, self.definition = limits, sequence_id, definition
        self.pool = definition.senders.email_pool()
        self.enrollment_id = 0
        self.chosen: str | None = None
        # By sender kind and address, at one instant: the sender (when paused) and the caps.
        self._caps: dict[tuple[str, str | None, bool, datetime], tuple[Sender | None, list[Cap]]]
        self._caps = {}

    def begin(self, enrollment_id: int) -> None:
        """The enrollment the next holds are for."""
        self.enrollment_id, self.chosen = enrollment_id, None

    def choice(self) -> str | None:
        """The mailbox the rotation picked for the current enrollment's step (None: none)."""
        return self.chosen

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
        email = step.action == "email"
        own = getattr(step, "sender", None)
        if email and not own and len(self.pool) > 1:
            return self._rotate(now, plan_caps(self.limits, "sender", self.sequence_id))
        address = own or getattr(self.definition.senders, kind)
        key = (kind, address, email, now)
        found = self._caps.get(key)
        if found is None:  # the batch's steps share an instant: their caps are made once
            found = self._caps[key] = self._sender_caps(kind, address, email, now)
        paused, caps = found
        if paused is not None:
            return now + PAUSE_RECHECK, _paused(paused)
        return hold(self.limits, caps, now) if caps else None

    def _sender_caps(
        self, kind: str, address: str | None, email: bool, now: datetime
    ) -> tuple[Sender | None, list[Cap]]:
        sender = self.limits.sender(kind, address) if address else None
        if sender is not None and sender.paused_at is not None:
            return sender, []
        caps = sender_caps("sender", sender, now=now) if sender is not None else []
        plan = plan_caps(self.limits, "sender", self.sequence_id) if email else []
        return None, caps + plan

    def _rotate(self, now: datetime, plan: list[Cap]) -> tuple[datetime, str] | None:
        """The first mailbox of the rotation that may send now, or the earliest reopening."""
        thread = self.limits.thread_sender(self.enrollment_id)
        start = self.enrollment_id % len(self.pool)
        order = [thread] if thread in self.pool else self.pool[start:] + self.pool[:start]
        holds: list[tuple[datetime, str]] = []
        for address in order:
            sender = self.limits.sender("email", address)
            if sender is not None and sender.paused_at is not None:
                holds.append((now + PAUSE_RECHECK, _paused(sender)))
                continue
            caps = sender_caps("sender", sender, now=now) if sender is not None else []
            held = hold(self.limits, caps + plan, now)
            if held is None:
                self.chosen = address
                return None
            holds.append(held)
        until = min(when for when, _ in holds)
        why = "; ".join(reason for _, reason in holds)
        if thread in self.pool:
            why = f"{why} (the thread stays with {thread})"
        return until, why


PAUSE_RECHECK = timedelta(hours=1)


def _paused(sender: Sender) -> str:
    return f"held: sender {sender.address} is paused ({sender.paused_reason or 'by hand'})"


def sender_caps(
    prefix: str, sender: Sender, *, pace: bool = False, now: datetime | None = None
) -> list[Cap]:
    """A sender's caps; `pace` adds the per-second rate, which governs sending rather than
    deciding steps. A running warm-up ramp (given `now`) lowers the daily cap."""
    per_day, ramp = sender.per_day, warmup_cap(sender, now) if now is not None else None
    if ramp is not None:
        per_day = ramp[0]
    caps = [
        Cap(f"{prefix}:{sender.address}:{unit[0]}", int(limit), unit, "")
        for limit, unit in (
            (sender.per_second if pace else None, "second"),
            (sender.per_hour, "hour"),
            (per_day, "day"),
        )
        if limit is not None and (limit or unit == "day")
    ]
    warming = f" (warm-up day {ramp[1]})" if ramp is not None else ""
    return [
        Cap(
            c.scope,
            c.limit,
            c.unit,
            f"held: sender {sender.address} at {c.limit}/{c.unit}"
            + (warming if c.unit == "day" else ""),
        )
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
