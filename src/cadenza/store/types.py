"""Column types of the store that SQLAlchemy Core alone can use (no ORM import).

`store.models` declares its tables with these, and `store.columns` reads with the very same
types, so a listing read without the ORM gets the values the ORM would (aware UTC times).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigID = BigInteger().with_variant(Integer(), "sqlite")

# Every status each kind of row may have (DESIGN.md section 3): listings refuse any other.
SEQUENCE_STATUSES = ("draft", "active", "paused", "ended", "archived")
ENROLLMENT_STATUSES = ("active", "waiting", "paused", "completed", "exited", "removed")
TASK_STATUSES = ("open", "done", "skipped", "canceled", "error")
MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "held")
