"""Pages of a listing: a limit, an opaque cursor naming the last row's key, the next cursor.

Every listing pages on a stable order ending in a unique column (keyset pagination), so a
page costs the same on the first page and the ten-thousandth, and a row is never shown twice
nor skipped when rows are added meanwhile. The cursor is the last row's key as base64url
JSON: opaque to clients, checked when it comes back (a tampered one is refused, never 500).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.engine import Row

from cadenza.errors import ValidationFailed

# Listings read through a session or, on the CLI's quick path, a Core connection (no ORM).
if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from cadenza.services.users.access import Viewer

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # the most any listing ever answered at once, so no client asks in vain
WALK_PAGE = 500  # `--all` reads this many rows per query


class InvalidParameter(ValidationFailed):
    """A listing's parameter (a filter, the limit, the cursor) was refused; it is named."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.problems = [f"{parameter}: {message}"]
        super().__init__(f"{parameter}: {message}")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Some rows of a listing, the cursor of the rest (None: no more), the total if counted."""

    rows: list[T]
    next: str | None = None
    total: int | None = None

    @property
    def partial(self) -> bool:
        return self.next is not None


@dataclass(frozen=True)
class Order:
    """A listing's order: columns ending in a unique one, of kinds int, str or datetime.

    `nullable_first`: the first column may be NULL; such rows come last.
    """

    columns: tuple[Any, ...]
    kinds: tuple[type, ...]
    descending: bool = False
    nullable_first: bool = False


def check_limit(limit: int) -> int:
    """`limit` when it is 1..MAX_LIMIT; InvalidParameter otherwise."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter("limit", f"{limit} is not between 1 and {MAX_LIMIT}")
    return limit


def encode(key: tuple[Any, ...]) -> str:
    """A row's key as an opaque cursor."""
    parts = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, order: Order) -> tuple[Any, ...]:
    """The key a cursor names, checked against the order's kinds; InvalidParameter if not."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _bad_cursor() from None
    if not isinstance(parts, list) or len(parts) != len(order.kinds):
        raise _bad_cursor()
    return tuple(
        _part(value, kind, nullable=order.nullable_first and i == 0)
        for i, (value, kind) in enumerate(zip(parts, order.kinds, strict=True))
    )


def _part(value: Any, kind: type, *, nullable: bool) -> Any:
    if value is None and nullable:
        return None
    if kind is datetime and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _bad_cursor() from None
        if parsed.tzinfo is None:
            raise _bad_cursor()
        return parsed
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 2**63:
            return value
    if kind is str and isinstance(value, str):
        return value
    raise _bad_cursor()


def _bad_cursor() -> InvalidParameter:
    return InvalidParameter(
        "cursor", "not a cursor this listing gave (copy the `next` link as it is)"
    )


def after(order: Order, key: tuple[Any, ...]) -> ColumnElement[bool]:
    """The condition for rows strictly after `key` in `order`."""
    columns = order.columns
    newer = tuple_(*columns) < key if order.descending else tuple_(*columns) > key
    if not order.nullable_first:
        return newer
    first, rest = columns[0], columns[1:]
    if key[0] is None:  # among the NULLs, which come last: only the rest of the key decides
        return and_(first.is_(None), tuple_(*rest) > key[1:])
    return or_(newer, first.is_(None))


def ordered(query: AnySelect, order: Order) -> AnySelect:
    """`query` in `order` (with NULLs of a nullable first column last)."""
    terms: list[Any] = [c.desc() if order.descending else c.asc() for c in order.columns]
    if order.nullable_first:
        terms[0] = terms[0].nulls_last()
    return query.order_by(*terms)


def fetch(
    session: Session | Connection,
    query: AnySelect,
    order: Order,
    *,
    limit: int,
    cursor: str | None,
    count: bool = True,
    offset: int = 0,
    counted: AnySelect | None = None,
) -> Page[AnyRow]:
    """One page of `query`'s rows (its key columns appended last), the next cursor, and on
    the first page (no cursor) the total.

    `counted`: the same rows without the joins that only add columns, cheaper to count.
    """
    check_limit(limit)
    paged = query.add_columns(*order.columns)
    if cursor is not None:
        paged = paged.where(after(order, decode(cursor, order)))
    rows = list(session.execute(ordered(paged, order).offset(offset or None).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    width = len(order.columns)
    next_cursor = encode(tuple(rows[-1][-width:])) if more and rows else None
    total = _total(
        session, query if counted is None else counted, rows, more, cursor, offset, count
    )
    return Page(rows, next_cursor, total)


def _total(
    session: Session | Connection,
    query: AnySelect,
    rows: list[AnyRow],
    more: bool,
    cursor: str | None,
    offset: int,
    count: bool,
) -> int | None:
    if not count or cursor is not None:  # counted once, on the first page: not per page
        return None
    if not more and not offset:  # the whole list is on this page
        return len(rows)
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def mapped(page: Page[AnyRow], convert: Callable[[AnyRow], T]) -> Page[T]:
    """The same page with each row converted."""
    return Page([convert(row) for row in page.rows], page.next, page.total)


def walk(read: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every row of a listing, one page (one query) at a time: `read(cursor)` gives a page."""
    cursor: str | None = None
    while True:
        page = read(cursor)
        yield from page.rows
        if page.next is None:
            return
        cursor = page.next


def one_of(
    parameter: str, value: str, allowed: tuple[str, ...] | frozenset[str], what: str = ""
) -> str:
    """`value` when it is one of `allowed`; InvalidParameter naming them otherwise."""
    if value not in allowed:
        choices = ", ".join(sorted(allowed) if isinstance(allowed, frozenset) else allowed)
        kind = f"{what} (one of {choices})" if what else f"one of {choices}"
        raise InvalidParameter(parameter, f"{value!r} is not {kind}")
    return value


def sequence_id(session: Session, name: str, viewer: Viewer) -> int:
    """The id of the sequence named by a `sequence` filter, if the viewer sees it."""
    from cadenza.services.users import access
    from cadenza.store.models import Sequence

    query = select(Sequence.id).where(Sequence.name == name, access.visible_sequences(viewer))
    found = session.scalar(query)
    if found is None:
        raise InvalidParameter("sequence", f"no sequence named {name!r}")
    return found


def dialect_name(reader: Session | Connection) -> str:
    """The database's dialect, read through a session or a Core connection."""
    return reader.dialect.name if hasattr(reader, "dialect") else reader.get_bind().dialect.name
