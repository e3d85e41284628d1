"""Claims: due enrollments for the worker, due messages for the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    func,
    not_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect, RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from cadenza.store.bulk import driver_cursor, loads, sqlite_datetime, sqlite_time
from cadenza.store.models import (
    LIVE_STATUSES,
    Contact,
    ContactTag,
    Enrollment,
    Message,
    User,
)
from cadenza.store.models import Sequence as SequenceRow

ENROLLMENT_COLUMNS = (
    Enrollment.id,
    Enrollment.sequence_id,
    Enrollment.version_id,
    Enrollment.contact_id,
    Enrollment.status,
    Enrollment.step,
    Enrollment.due_at,
    Enrollment.enrolled_at,
    Enrollment.last_step_at,
    Enrollment.outcome,
    Enrollment.exit_reason,
    Enrollment.initiator_id,
    Enrollment.state,
)


# What the machine reads of a contact (ContactView's fields); the owner is the user's email.
CONTACT_VIEW_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.phone,
    Contact.timezone,
    Contact.company,
    Contact.lead_source,
    Contact.disposition,
    Contact.fields,
    Contact.dnc,
    Contact.sms_opted_out,
    Contact.email_unsubscribed,
    Contact.email_bounced,
    User.email.label("owner"),
    Contact.external_id,
    Contact.last_contacted_at,
    Contact.last_contacted_mode,
    Contact.last_activity_type,
    Contact.last_activity_at,
)
VIEW_FIELDS = tuple(c.key for c in CONTACT_VIEW_COLUMNS)
_FLAGS = ("dnc", "sms_opted_out", "email_unsubscribed", "email_bounced")
_TIMES = ("last_contacted_at", "last_activity_at")
_ENROLLMENT_WIDTH = len(ENROLLMENT_COLUMNS) + 2  # and the sequence's name and status
_CONTACT_END = _ENROLLMENT_WIDTH + len(VIEW_FIELDS)

# Spelled out literally, as in the index's own WHERE clause: a planner can use a partial index
# only when the query's condition visibly implies the index's, which a bound list does not.
LIVE_ROWS = text("enrollments.status IN (" + ", ".join(f"'{s}'" for s in LIVE_STATUSES) + ")")


@dataclass(slots=True)
class Claimed:
    """A claimed enrollment, its sequence's name and status, and its contact's columns.

    `contact` holds ContactView's fields, tags included (sorted).
    """

    id: int
    sequence_id: int
    version_id: int
    contact_id: int
    status: str
    step: str | None
    due_at: datetime | None
    enrolled_at: datetime
    last_step_at: datetime | None
    outcome: str | None
    exit_reason: str | None
    initiator_id: int | None
    state: dict[str, Any]
    sequence_name: str
    sequence_status: str
    contact: dict[str, Any]


def _claim_query(dialect: Dialect, apart: bool = False) -> Select[Any]:
    """Everything the worker reads of a due enrollment, in one statement.

    The due enrollments are picked on their own first (the partial index in due order,
    LIMIT, lock), then each one's contact, owner and tags are looked up by key, and the
    sequence joined, so a batch is one round trip. The plan must not depend on statistics,
    which are stale right after a bulk enrollment or import: on PostgreSQL the contact is a
    LATERAL lookup with LIMIT 1, which the planner cannot turn into a scan of all contacts.
    Only the enrollment rows are locked (`SKIP LOCKED`), so any number of workers share the
    work without waiting on each other.
    """
    postgres = dialect.name == "postgresql"
    due = (
        select(*ENROLLMENT_COLUMNS)
        .where(LIVE_ROWS, Enrollment.due_at <= bindparam("now"))
        .order_by(Enrollment.due_at)
        .limit(bindparam("limit", type_=Integer))
    )
    if apart:
        # Contacts whose other enrollments the batch in hand may still lock: a claim sent
        # ahead of its contact changes must not hold what they wait for.
        contacts = bindparam("apart", type_=postgresql.ARRAY(BigInteger))
        due = due.where(not_(Enrollment.contact_id == any_(contacts)))
    if postgres:
        due = due.with_for_update(skip_locked=True)
    claimed = due.cte("claimed")
    gather = func.array_agg if postgres else func.json_group_array
    tags = (
        select(gather(ContactTag.tag))
        .where(ContactTag.contact_id == Contact.id)
        .scalar_subquery()
        .label("tags")
    )
    query = select(claimed, SequenceRow.name, SequenceRow.status).join(
        SequenceRow, SequenceRow.id == claimed.c.sequence_id
    )
    if postgres:
        contact = (
            select(*CONTACT_VIEW_COLUMNS, tags)
            .outerjoin(User, User.id == Contact.owner_id)
            .where(Contact.id == claimed.c.contact_id)
            .limit(1)
            .lateral("contact")
        )
        query = query.add_columns(*contact.c).join(contact, true())
    else:  # SQLite looks contacts up by key anyway (and has no LATERAL)
        query = (
            query.add_columns(*CONTACT_VIEW_COLUMNS, tags)
            .join(Contact, Contact.id == claimed.c.contact_id)
            .outerjoin(User, User.id == Contact.owner_id)
        )
    return query.order_by(claimed.c.due_at)


# The claim compiled once per dialect: the worker runs it on every tick, and SQLAlchemy's
# per-row result processing would cost more than the database does.
_compiled: dict[tuple[str, bool], SQLCompiler] = {}


def _statement(dialect: Dialect, apart: bool = False) -> SQLCompiler:
    found = _compiled.get((dialect.name, apart))
    if found is None:
        query = _claim_query(dialect, apart)
        found = _compiled[dialect.name, apart] = query.compile(dialect=dialect)
    return found


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` due enrollments, oldest due first.

    PostgreSQL: one `FOR UPDATE SKIP LOCKED` statement. SQLite: the caller's BEGIN IMMEDIATE
    already made this the only writer. Either way the rows stay claimed until the
    transaction ends, and the partial index on live `due_at` keeps the cost proportional to
    what is due. The statement runs on the driver's cursor and its values are converted
    here, once.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cursor = send_claim(session, now, limit)
        try:
            return claimed_rows(cursor.fetchall())
        finally:
            cursor.close()
    compiled = _statement(connection.dialect)
    cursor = driver_cursor(session)
    try:
        params = compiled.construct_params({"now": sqlite_time(now), "limit": limit}) or {}
        cursor.execute(compiled.string, [params[name] for name in compiled.positiontup or ()])
        return [_from_sqlite(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def send_claim(session: Session, now: datetime, limit: int, apart: Sequence[int] = ()) -> Any:
    """PostgreSQL: execute the claim on a driver cursor of the session's connection.

    `apart`: contacts none of whose enrollments are claimed. The caller fetches the rows
    (`claimed_rows`) and closes the cursor. In pipeline mode the claim is only queued, and
    the rows are read when the caller needs them.
    """
    connection = session.connection()
    compiled = _statement(connection.dialect, bool(apart))
    cursor = driver_cursor(session)
    values: dict[str, Any] = {"now": now, "limit": limit}
    if apart:
        values["apart"] = list(apart)
    params = compiled.construct_params(values)
    cursor.execute(compiled.string, params)
    return cursor


def claimed_rows(rows: Sequence[tuple[Any, ...]]) -> list[Claimed]:
    """The claim's PostgreSQL rows as Claimed records."""
    return [_from_postgres(row) for row in rows]


def _from_postgres(row: tuple[Any, ...]) -> Claimed:
    """psycopg already hands back aware times, decoded JSON, booleans and arrays."""
    contact = dict(zip(VIEW_FIELDS, row[_ENROLLMENT_WIDTH:_CONTACT_END], strict=True))
    tags = row[_CONTACT_END]
    contact["tags"] = sorted(tags) if tags else []
    return Claimed(*row[:_ENROLLMENT_WIDTH], contact)  # type: ignore[call-arg]


def _from_sqlite(row: tuple[Any, ...]) -> Claimed:
    """SQLite hands back times as text, JSON as text and flags as 0/1."""
    contact = dict(zip(VIEW_FIELDS, row[_ENROLLMENT_WIDTH:_CONTACT_END], strict=True))
    fields = contact["fields"]
    contact["fields"] = loads(fields) if fields and fields != "{}" else {}
    for flag in _FLAGS:
        contact[flag] = bool(contact[flag])
    for name in _TIMES:
        contact[name] = sqlite_datetime(contact[name])
    tags = row[_CONTACT_END]
    contact["tags"] = sorted(loads(tags)) if tags != "[]" else []
    return Claimed(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        sqlite_datetime(row[6]),
        sqlite_datetime(row[7]),  # type: ignore[arg-type]  # never null
        sqlite_datetime(row[8]),
        row[9],
        row[10],
        row[11],
        loads(row[12]) if row[12] else {},
        row[13],
        row[14],
        contact,
    )


MESSAGES: Table = Message.__table__  # type: ignore[assignment]
MESSAGE_COLUMNS = tuple(MESSAGES.c)
_HELD = "the dispatcher stopped while sending: held for a person to check"


def claim_messages(
    session: Session, now: datetime, limit: int, lease_until: datetime, *, resend_expired: bool
) -> Sequence[RowMapping]:
    """Lease up to `limit` messages that are due: queued ones, and ones whose lease expired.

    An expired lease means a dispatcher died while sending: the message is taken again (and
    resent with the same key) or, when `resend_expired` is off, set `held` for a person.
    One `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` statement leases
    the rows and reads them back; the rows come ordered by id.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    queued = (MESSAGES.c.status == "queued") & (MESSAGES.c.next_attempt_at <= now)
    expired = (MESSAGES.c.status == "sending") & (MESSAGES.c.lease_until < now)
    if not resend_expired:
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(_due(expired, limit, postgres)))
            .values(status="held", lease_until=None, error=_HELD)
        )
    claimed = session.execute(
        update(MESSAGES)
        .where(
            MESSAGES.c.id.in_(_due(queued | expired if resend_expired else queued, limit, postgres))
        )
        .values(status="sending", lease_until=lease_until, attempts=MESSAGES.c.attempts + 1)
        .returning(*MESSAGE_COLUMNS)
    )
    return sorted(claimed.mappings().all(), key=lambda row: int(row["id"]))


def _due(condition: ColumnElement[bool], limit: int, postgres: bool) -> Select[tuple[int]]:
    """The ids of the first `limit` rows meeting `condition`, locked (and skipped if locked)."""
    query = select(MESSAGES.c.id).where(condition).order_by(MESSAGES.c.next_attempt_at).limit(limit)
    return query.with_for_update(skip_locked=True) if postgres else query
