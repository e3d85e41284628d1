"""Typed custom field definitions: defined by managers, obeyed by every write of a contact."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from cadenza.core.field_types import FieldType, checked_definition, checked_value
from cadenza.errors import Conflict, NotFound, ValidationFailed
from cadenza.services import history
from cadenza.services.users import access
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.store.models import FieldDefinition


class FieldRow(TypedDict):
    name: str
    label: str
    kind: str
    choices: list[str]


def field_types(*, session: Session) -> dict[str, FieldType]:
    """Every defined custom field by name."""
    rows = session.execute(
        select(FieldDefinition.name, FieldDefinition.kind, FieldDefinition.choices)
    )
    return {name: FieldType(name, kind, tuple(choices or ())) for name, kind, choices in rows}


def list_fields(*, session: Session) -> list[FieldRow]:
    """The definitions in name order."""
    query = select(FieldDefinition).order_by(FieldDefinition.name)
    return [_row(found) for found in session.scalars(query)]


def _row(found: FieldDefinition) -> FieldRow:
    return {
        "name": found.name,
        "label": found.label,
        "kind": found.kind,
        "choices": list(found.choices or ()),
    }


def define_field(
    *,
    session: Session,
    name: str,
    kind: str,
    now: datetime,
    choices: list[str] | None = None,
    label: str = "",
    viewer: Viewer = OPERATOR,
) -> FieldRow:
    """Define a custom field's type; the same name again is a Conflict.

    Values already stored are not rewritten: the type holds for every write from now on.
    """
    access.require(viewer, "manage contact fields")
    try:
        field = checked_definition(name, kind, choices)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    if len(label) > 200:
        raise ValidationFailed("label: at most 200 characters")
    taken = select(FieldDefinition.id).where(FieldDefinition.name == field.name)
    if session.scalar(taken) is not None:
        raise Conflict(f"custom field {field.name!r} is already defined")
    found = FieldDefinition(
        name=field.name,
        label=label.strip() or field.name.replace("_", " ").capitalize(),
        kind=field.kind,
        choices=list(field.choices) or None,
        created_at=now,
    )
    session.add(found)
    session.flush()
    history.record(
        session, history.Subject(None), "field_defined", now, actor=viewer.actor,
        field=field.name, kind=field.kind,
    )  # fmt: skip
    return _row(found)


def delete_field(*, session: Session, name: str, now: datetime, viewer: Viewer = OPERATOR) -> None:
    """Forget a custom field's type (contacts keep their values)."""
    access.require(viewer, "manage contact fields")
    found = session.scalar(select(FieldDefinition).where(FieldDefinition.name == name))
    if found is None:
        raise NotFound(f"no custom field {name!r} is defined")
    session.delete(found)
    history.record(
        session, history.Subject(None), "field_deleted", now, actor=viewer.actor, field=name
    )


def checked_fields(
    types: Mapping[str, FieldType], fields: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Custom field values as stored, and (`fields.X`, why) for each that its type refuses."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, value in fields.items():
        field = types.get(name)
        if field is None:
            values[name] = value
            continue
        try:
            values[name] = checked_value(field, value)
        except ValueError as exc:
            problems.append((f"fields.{name}", f"{field.kind} field: {exc}"))
    return values, problems


def known_field_types(url: str) -> dict[str, FieldType] | None:
    """The field definitions of the database at `url`, or None when there is none to read
    (no SQLite file, a server that does not answer, a database not yet initialised)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from cadenza.store.db import make_engine, session_factory

    try:
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite") and not _exists(parsed.database):
            return None
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError, ImportError, OSError):
        return None
    try:
        if not inspect(engine).has_table("field_definitions"):
            return None
        with session_factory(engine)() as session:
            return field_types(session=session)
    except (SQLAlchemyError, OSError):
        return None
    finally:
        engine.dispose()


def _exists(database: str | None) -> bool:
    from pathlib import Path

    return bool(database) and database != ":memory:" and Path(str(database)).is_file()
