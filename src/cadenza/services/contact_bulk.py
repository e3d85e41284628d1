"""Bulk writes of checked contacts: merge a file's duplicates, then insert or update.

Dedupe rule: the same email is the same person; else the same phone is, unless both have
emails and they differ (two people sharing an office line stay two contacts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Column, Dialect, Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.errors import Conflict
from cadenza.services.contacts import FLAGS, Draft
from cadenza.store.models import Contact, ContactTag

# (stage, done, total): stage is "checking" (rows) then "writing" (contacts).
Progress = Callable[[str, int, int], None]


def merge_duplicates(drafts: list[Draft]) -> tuple[list[Draft], int]:
    """Fold each row into an earlier row for the same person (same email, else same phone)."""
    targets: list[Draft] = []
    by_email: dict[str, Draft] = {}
    by_phone: dict[str, list[Draft]] = {}
    for draft in drafts:
        email, phone = draft.email, draft.phone
        target = None
        if email in by_email or phone in by_phone:  # most rows are new: skip the search
            target = _same_person(email, phone, by_email, by_phone)
        if target is None:
            targets.append(draft)
            if email is not None:
                by_email[email] = draft
            if phone is not None:
                by_phone.setdefault(phone, []).append(draft)
            continue
        target.merge(draft)
        if target.email is not None:
            by_email[target.email] = target
        same_phone = by_phone.setdefault(target.phone or "", [])
        if not any(other is target for other in same_phone):
            same_phone.append(target)
    return targets, len(drafts) - len(targets)


def _same_person(
    email: str | None,
    phone: str | None,
    by_email: Mapping[str, Any],
    by_phone: Mapping[str, list[Any]],
) -> Any:
    """The email's match, else the first of the phone's matches whose email does not disagree."""
    if email is not None and email in by_email:
        return by_email[email]
    for candidate in by_phone.get(phone or "", []):
        other = candidate.email if isinstance(candidate, Draft) else candidate["email"]
        if other is None or email is None:
            return candidate
    return None


CONTACTS = cast(Table, Contact.__table__)
TAGS = cast(Table, ContactTag.__table__)
CHUNK = 900  # bound parameters per IN (...) stay below SQLite's limit
WRITE_BATCH = 5000
_COLUMNS = (
    "id", "first_name", "last_name", "email", "phone", "timezone", "company", "owner_id",
    "lead_source", "disposition", "fields", *FLAGS,
)  # fmt: skip


def upsert(
    *, session: Session, drafts: list[Draft], now: datetime, progress: Progress | None = None
) -> tuple[int, int]:
    """Insert new contacts, update matching ones; (new, updated). Call inside `writing`."""
    by_email, by_phone = _existing(session, drafts)
    template = _template(now)
    inserts: list[dict[str, Any]] = []
    insert_tags: list[list[str]] = []
    updates: dict[int, dict[str, Any]] = {}
    update_tags: list[dict[str, Any]] = []
    for draft in drafts:
        row = _same_person(draft.email, draft.phone, by_email, by_phone)
        if row is None:
            inserts.append(_new_row(template, draft))
            insert_tags.append(draft.tags)
            continue
        _fold(row, draft, now)
        if row["email"] is not None:
            by_email[row["email"]] = row
        updates[row["id"]] = row
        update_tags += [{"contact_id": row["id"], "tag": tag} for tag in draft.tags]
    try:
        _insert(session, inserts, insert_tags, len(drafts), progress)
        _update(session, list(updates.values()), update_tags)
    except IntegrityError:
        raise Conflict("contacts changed while importing (another import?); run it again") from None
    return len(inserts), len(updates)


def _existing(
    session: Session, drafts: list[Draft]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Existing contacts sharing an email, and (for the others) a phone, with the drafts."""
    emails = [d.email for d in drafts if d.email is not None]
    found = _ids_where(session, "email", emails)
    known = {email for _, email, _ in found}
    phones = [d.phone for d in drafts if d.phone is not None and d.email not in known]
    found += _ids_where(session, "phone", phones)
    rows = _rows_by_id(session, sorted({contact_id for contact_id, _, _ in found}))
    by_email = {row["email"]: row for row in rows if row["email"] is not None}
    by_phone: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["phone"] is not None:
            by_phone.setdefault(row["phone"], []).append(row)
    return by_email, by_phone


def _ids_where(session: Session, column: str, values: list[str]) -> list[tuple[int, Any, Any]]:
    """(id, email, phone) of contacts whose `column` is one of `values`, straight from the driver.

    Mostly nothing matches; SQLAlchemy's per-parameter work for 100,000 values would dominate.
    """
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    found: list[tuple[int, Any, Any]] = []
    for batch in _chunks(values):
        marks = ",".join([mark] * len(batch))
        sql = f"SELECT id, email, phone FROM contacts WHERE {column} IN ({marks})"
        found += [tuple(row) for row in connection.exec_driver_sql(sql, tuple(batch))]
    return found


def _rows_by_id(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    columns = [getattr(Contact, name) for name in _COLUMNS]
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        query = select(*columns).where(Contact.id.in_(ids[start : start + CHUNK]))
        rows += [dict(row) for row in session.execute(query.order_by(Contact.id)).mappings()]
    return rows


def _chunks(values: list[str]) -> Iterable[list[str]]:
    unique = sorted(set(values))
    return (unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK))


def _new_row(template: dict[str, Any], draft: Draft) -> dict[str, Any]:
    row = template.copy()
    row.update(draft.values)
    row["fields"] = draft.fields
    row["timezone"] = row["timezone"] or draft.zone_guess
    return row


def _template(now: datetime) -> dict[str, Any]:
    """A new contact's row before its values: every column, so executemany sees one shape."""
    row: dict[str, Any] = dict.fromkeys(_COLUMNS[1:], None)
    row.update(first_name="", last_name="", created_at=now, updated_at=now)
    row.update(dict.fromkeys(FLAGS, False))
    return row


def _fold(row: dict[str, Any], draft: Draft, now: datetime) -> None:
    """Non-empty incoming values win; custom fields merge; a known zone beats a guessed one."""
    row.update(draft.values)
    row["fields"] = {**(row["fields"] or {}), **draft.fields}
    row["timezone"] = row["timezone"] or draft.zone_guess
    row["updated_at"] = now


def _insert(
    session: Session,
    rows: list[dict[str, Any]],
    tags: list[list[str]],
    total: int,
    progress: Progress | None,
) -> None:
    # Ids are reserved up front so that plain executemany can insert (RETURNING is far slower).
    ids = _reserve_ids(session, len(rows))
    _roomy_cache(session)
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        for row, contact_id in zip(batch, ids[start : start + WRITE_BATCH], strict=True):
            row["id"] = contact_id
        _executemany(session, CONTACTS, batch)
        links = [
            {"contact_id": row["id"], "tag": tag}
            for row, names in zip(batch, tags[start : start + WRITE_BATCH], strict=True)
            for tag in names
        ]
        if links:
            _executemany(session, TAGS, links)
        if progress is not None:
            progress("writing", start + len(batch), total)


def _executemany(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows with SQLAlchemy's bind processors but the driver's fastest bulk path.

    COPY on PostgreSQL, executemany on SQLite: the same values `session.execute(insert,
    rows)` would send, without its per-row bookkeeping (it costs more than the database).
    """
    connection = session.connection()
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup or rows[0])  # SQLite's placeholders come in this order
    columns = [_converted(table.c[name], [row[name] for row in rows], dialect) for name in names]
    params = list(zip(*columns, strict=True))
    if dialect.name != "postgresql":
        connection.exec_driver_sql(compiled.string, params)
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for values in params:
            copy.write_row(values)


def _converted(column: Column[Any], values: list[Any], dialect: Dialect) -> list[Any]:
    """A column's values as the driver takes them; scalars (flags, times) converted once each."""
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    if convert is None:
        return values
    if isinstance(column.type, JSON):
        return [convert(value) for value in values]
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, convert(v)) for v in values]


def _roomy_cache(session: Session) -> None:
    """SQLite: a 64 MiB page cache on this connection (2 MiB makes 100k index inserts miss)."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA cache_size=-65536")


def _reserve_ids(session: Session, count: int) -> list[int]:
    """`count` new contact ids: from the sequence on PostgreSQL, after max(id) on SQLite.

    SQLite's max(id) is safe because the import holds the write lock (BEGIN IMMEDIATE).
    """
    if not count:
        return []
    if session.get_bind().dialect.name == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, :n)"
        )
        return list(session.scalars(query, {"n": count}))
    start = session.scalar(select(func.coalesce(func.max(Contact.id), 0))) or 0
    return list(range(start + 1, start + 1 + count))


def _update(session: Session, rows: list[dict[str, Any]], tags: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(update(Contact), rows)
    if tags:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(ContactTag).on_conflict_do_nothing(), tags)
