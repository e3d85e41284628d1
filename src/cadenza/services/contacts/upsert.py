"""Bulk writes of checked contacts: merge a file's duplicates, then insert or update.

Dedupe rule: the same email is the same person; else the same phone is, unless both have
emails and they differ (two people sharing an office line stay two contacts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Dialect,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from cadenza.core.contact_fields import FLAGS, Draft
from cadenza.errors import Conflict
from cadenza.store.copies import draw_ids
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
    "lead_source", "disposition", "fields", *FLAGS, "external_id",
)  # fmt: skip


def merge_by_external_id(drafts: list[Draft]) -> tuple[list[Draft], int]:
    """Fold each row into an earlier row with the same external_id."""
    targets: dict[str, Draft] = {}
    for draft in drafts:
        key = draft.values["external_id"]
        if key in targets:
            targets[key].merge(draft)
        else:
            targets[key] = draft
    return list(targets.values()), len(drafts) - len(targets)


def upsert(
    *,
    session: Session,
    drafts: list[Draft],
    now: datetime,
    progress: Progress | None = None,
    match_on: str = "email",
) -> tuple[list[int], int]:
    """Insert new contacts, update matching ones; (the new ids, how many updated).

    `match_on`: "email" (the same email, else the same phone) or "external_id" (every
    draft has one). Call inside `writing`.
    """
    if match_on == "external_id":
        keys = [draft.values["external_id"] for draft in drafts]
        rows = _rows_by_id(
            session, sorted({i for i, _, _ in _ids_where(session, "external_id", keys)})
        )
        by_external = {row["external_id"]: row for row in rows}

        def same(draft: Draft) -> dict[str, Any] | None:
            return by_external.get(draft.values["external_id"])
    else:
        rows = _existing(session, drafts)

        def same(draft: Draft) -> dict[str, Any] | None:
            found: dict[str, Any] | None = _same_person(
                draft.email, draft.phone, by_email, by_phone
            )
            return found

    before = {row["id"]: dict(row) for row in rows}
    by_email, by_phone = _indexed(rows)
    template = _template(now)
    inserts: list[dict[str, Any]] = []
    insert_tags: list[list[str]] = []
    updates: dict[int, dict[str, Any]] = {}
    update_tags: set[tuple[int, str]] = set()
    for draft in drafts:
        row = same(draft)
        if row is None:
            inserts.append(_new_row(template, draft))
            insert_tags.append(draft.tags)
            continue
        _fold(row, draft)
        if row["email"] is not None:
            by_email[row["email"]] = row
        updates[row["id"]] = row
        update_tags.update((row["id"], tag) for tag in draft.tags)
    # Contacts the file left as they were are not rewritten (their updated_at stays); a new
    # tag is a change (audiences read contacts changed since a time).
    links = _new_links(session, update_tags)
    tagged = {link["contact_id"] for link in links}
    changed = [
        row | {"updated_at": now}
        for key, row in updates.items()
        if row != before[key] or key in tagged
    ]
    try:
        with _roomy_cache(session):
            _insert(session, inserts, insert_tags, len(drafts), progress)
            _update(session, changed, links)
    except IntegrityError:
        raise Conflict(
            "an email or external_id of the file belongs to another contact than the one its "
            "row matched (or contacts changed while importing); nothing was imported"
        ) from None
    return [row["id"] for row in inserts], len(updates)


def _existing(session: Session, drafts: list[Draft]) -> list[dict[str, Any]]:
    """Existing contacts sharing an email, and (for the others) a phone, with the drafts."""
    emails = [d.email for d in drafts if d.email is not None]
    found = _ids_where(session, "email", emails)
    known = {email for _, email, _ in found}
    phones = [d.phone for d in drafts if d.phone is not None and d.email not in known]
    found += _ids_where(session, "phone", phones)
    return _rows_by_id(session, sorted({contact_id for contact_id, _, _ in found}))


def _indexed(
    rows: list[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Rows by email, and by phone (several contacts may share one), oldest first."""
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
    connection = session.connection()  # Core rows: the ORM's loading costs more than the query
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        query = select(*columns).where(Contact.id.in_(ids[start : start + CHUNK]))
        result = connection.execute(query.order_by(Contact.id))
        rows += [dict(zip(_COLUMNS, row, strict=True)) for row in result]
    return rows


def _new_links(session: Session, links: set[tuple[int, str]]) -> list[dict[str, Any]]:
    """The (contact, tag) pairs not already there."""
    ids = sorted({contact_id for contact_id, _ in links})
    connection = session.connection()
    for start in range(0, len(ids), CHUNK):
        query = select(ContactTag.contact_id, ContactTag.tag).where(
            ContactTag.contact_id.in_(ids[start : start + CHUNK])
        )
        links.difference_update((row[0], row[1]) for row in connection.execute(query))
    return [{"contact_id": contact_id, "tag": tag} for contact_id, tag in sorted(links)]


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
    row["last_contacted_mode"] = "not_contacted"  # the model's default, which inserts compile
    return row


def _fold(row: dict[str, Any], draft: Draft) -> None:
    """Non-empty incoming values win; custom fields merge; a known zone beats a guessed one."""
    row.update(draft.values)
    row["fields"] = {**(row["fields"] or {}), **draft.fields}
    row["timezone"] = row["timezone"] or draft.zone_guess


def _insert(
    session: Session,
    rows: list[dict[str, Any]],
    tags: list[list[str]],
    total: int,
    progress: Progress | None,
) -> None:
    # Ids are reserved up front so that plain executemany can insert (RETURNING is far slower).
    ids = _reserve_ids(session, len(rows))
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
    """INSERT rows through the driver's fastest bulk path: COPY on PostgreSQL, else executemany.

    The values are the ones `session.execute(insert, rows)` would send (SQLAlchemy's own
    conversions), without its per-row bookkeeping, which costs more than the database.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        _run_many(connection, table.insert(), table, rows)
        return
    names = list(rows[0])
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for values in _params(table, names, rows, connection.dialect):
            copy.write_row(values)


def _run_many(
    connection: Connection, statement: UpdateBase, table: Table, rows: list[dict[str, Any]]
) -> None:
    """`statement` once per row with the driver's executemany: SQLAlchemy's SQL and values."""
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup or rows[0])  # positional placeholders come in this order
    params: list[Any] = _params(table, names, rows, connection.dialect)
    if not compiled.positiontup:
        params = [dict(zip(names, values, strict=True)) for values in params]
    connection.exec_driver_sql(compiled.string, params)


def _params(
    table: Table, names: list[str], rows: list[dict[str, Any]], dialect: Dialect
) -> list[tuple[Any, ...]]:
    """Rows as tuples of driver values, in `names` order (`key_x` is column x in a WHERE)."""
    columns = [
        _converted(table.c[name.removeprefix("key_")], [row[name] for row in rows], dialect)
        for name in names
    ]
    return list(zip(*columns, strict=True))


def _converted(column: Column[Any], values: list[Any], dialect: Dialect) -> list[Any]:
    """A column's values as the driver takes them; scalars (flags, times) converted once each."""
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    if convert is None:
        return values
    if isinstance(column.type, JSON):
        return [convert(value) for value in values]
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, convert(v)) for v in values]


@contextmanager
def _roomy_cache(session: Session) -> Iterator[None]:
    """SQLite: a 64 MiB page cache while writing (2 MiB makes 100k index inserts miss)."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql("PRAGMA cache_size=-65536")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous or -2000)}")


def _reserve_ids(session: Session, count: int) -> list[int]:
    """`count` new contact ids (the import holds SQLite's write lock: see draw_ids)."""
    return draw_ids(session, Contact.__table__, count)  # type: ignore[arg-type]


def _update(session: Session, rows: list[dict[str, Any]], tags: list[dict[str, Any]]) -> None:
    connection = session.connection()
    if rows:
        for row in rows:
            row["key_id"] = row.pop("id")
        names = [name for name in rows[0] if name != "key_id"]
        statement = (
            update(CONTACTS)
            .where(CONTACTS.c.id == bindparam("key_id"))
            .values({name: bindparam(name) for name in names})
        )
        _run_many(connection, statement, CONTACTS, rows)
    if tags:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        _run_many(connection, dialect.insert(TAGS).on_conflict_do_nothing(), TAGS, tags)
