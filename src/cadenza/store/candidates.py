"""What the enrollment rules read of contacts about to be enrolled, in one query per chunk."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Integer, Select, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from cadenza.store.models import Contact, Enrollment


class Candidate(NamedTuple):
    """A contact's time zone and flags, and the statuses of its enrollments in the sequence."""

    timezone: str | None
    dnc: bool
    sms_opted_out: bool
    email_unsubscribed: bool
    email_bounced: bool
    last_inbound_at: datetime | None
    before: tuple[str, ...]


_CONTACT_COLUMNS = (
    Contact.id,
    Contact.timezone,
    Contact.dnc,
    Contact.sms_opted_out,
    Contact.email_unsubscribed,
    Contact.email_bounced,
    Contact.last_inbound_at,
)
# Compiled once per dialect and run on the driver's cursor: SQLAlchemy's per-row result
# processing would cost more than the query.
_compiled: dict[str, SQLCompiler] = {}


def load(session: Session, sequence_id: int, contact_ids: list[int]) -> dict[int, Candidate]:
    """The contacts among these ids (missing ones are absent), as the rules see them."""
    dialect = session.get_bind().dialect
    compiled = _statement(dialect)
    postgres = dialect.name == "postgresql"
    # One parameter for all the ids: an IN list would cost a bound parameter per id.
    ids: Any = contact_ids if postgres else json.dumps(contact_ids)
    params = compiled.construct_params({"sequence_id": sequence_id, "ids": ids})
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    if postgres:
        cursor.execute(compiled.string, params)
    else:
        cursor.execute(compiled.string, [params[name] for name in compiled.positiontup or ()])
    rows = cursor.fetchall()
    cursor.close()
    inbound_of = _inbound_processor(dialect)
    found: dict[int, Candidate] = {}
    for contact_id, zone, dnc, opted_out, unsubscribed, bounced, inbound, before in rows:
        if inbound is not None and inbound_of is not None:
            inbound = inbound_of(inbound)
        found[contact_id] = Candidate(
            zone,
            bool(dnc),
            bool(opted_out),
            bool(unsubscribed),
            bool(bounced),
            inbound,
            tuple(before.split(",")) if before else (),
        )
    return found


def _statement(dialect: Dialect) -> SQLCompiler:
    found = _compiled.get(dialect.name)
    if found is None:
        found = _compiled[dialect.name] = _query(dialect).compile(dialect=dialect)
    return found


def _query(dialect: Dialect) -> Select[*tuple[Any, ...]]:
    # The statuses as a subquery per contact, looked up by index: a join would let the
    # planner (with no statistics yet for the rows this same bulk enrollment just wrote)
    # hash every enrollment of the sequence for every chunk.
    postgres = dialect.name == "postgresql"
    concat = func.string_agg if postgres else func.group_concat
    before = (
        select(concat(Enrollment.status, literal_column("','")))
        .where(
            Enrollment.contact_id == Contact.id,
            Enrollment.sequence_id == bindparam("sequence_id", type_=Integer),
        )
        .scalar_subquery()
    )
    if postgres:
        among = Contact.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
    else:
        ids = func.json_each(bindparam("ids")).table_valued("value")
        among = Contact.id.in_(select(ids.c.value))
    return select(*_CONTACT_COLUMNS, before).where(among)


def _inbound_processor(dialect: Dialect) -> Callable[[Any], Any] | None:
    """How SQLAlchemy reads `last_inbound_at` back (SQLite stores text)."""
    column_type = Contact.__table__.c.last_inbound_at.type
    processor: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).result_processor(
        dialect, None
    )
    return processor
