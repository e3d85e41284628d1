"""Saved views: named filters over contacts or accounts, owned and shared like sequences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadenza.core.access import SHARING_ACCESS, SHARING_MODES, Reach, Shared, reach
from cadenza.core.conditions import describe
from cadenza.core.definition import Condition
from cadenza.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cadenza.limits import MAX_ID
from cadenza.services import paging
from cadenza.services.users import access
from cadenza.services.users.access import Viewer
from cadenza.store.models import SavedView, User

KINDS = ("contacts", "accounts")
UI_CONDITIONS = 8  # conditions the UI's builder offers; code takes any condition
ORDER = paging.Order((SavedView.name, SavedView.id), (str, int))
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


@dataclass
class ViewRow:
    """A saved view as listings show it."""

    id: int
    name: str
    kind: str
    condition: dict[str, Any]
    description: str
    owner: str | None
    sharing: str
    access: str
    editable: bool


def parse(data: Any, name: str = "condition") -> Condition:
    """A condition from its JSON/YAML data; ValidationFailed naming what is wrong."""
    try:
        return CONDITION.validate_python(data)
    except ValidationError as exc:
        reasons = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        )
        raise ValidationFailed(f"{name}: not a condition: {reasons}") from None


def condition_of(view: SavedView) -> Condition:
    """The stored condition of a view."""
    return CONDITION.validate_python(view.condition)


def stored(condition: Condition) -> dict[str, Any]:
    """A condition as a view keeps it (the written form, aliases included)."""
    data: dict[str, Any] = CONDITION.dump_python(condition, by_alias=True, exclude_none=True)
    return data


def view_for(
    *, session: Session, viewer: Viewer, name: str, edit: bool = False, kind: str | None = None
) -> SavedView:
    """The view by name (or id) once the viewer reaches it (404), and may edit it if asked (403)."""
    text = str(name).strip()
    found = session.get(SavedView, int(text)) if _an_id(text) else None
    if found is None:
        query = select(SavedView).where(func.lower(SavedView.name) == text.lower())
        found = session.execute(query).scalar_one_or_none()
    level = reach(viewer.person, _shared(found)) if found is not None else Reach.NONE
    if found is None or level == Reach.NONE or (kind is not None and found.kind != kind):
        raise NotFound(f"no {kind + ' ' if kind else ''}view named {text!r}")
    if edit and level < Reach.EDIT:
        raise Forbidden(f"{viewer.actor} may view but not change view {found.name!r}")
    return found


def page_views(
    *,
    session: Session,
    viewer: Viewer,
    kind: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> paging.Page[ViewRow]:
    """A page of the views the viewer sees, by name."""
    query = select(SavedView).where(visible(viewer))
    if kind is not None:
        query = query.where(SavedView.kind == paging.one_of("kind", kind, KINDS))
    page = paging.fetch(session, query, ORDER, limit=limit, cursor=cursor)
    return paging.Page(rows(session, viewer, [r[0] for r in page.rows]), page.next, page.total)


def create_view(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    condition: Any,
    kind: str = "contacts",
    sharing: str = "private",
    access_: str = "view",
    now: datetime,
) -> SavedView:
    """A new view owned by the viewer; Conflict when the name is taken."""
    access.require(viewer, "edit contacts")
    clean = _name(name)
    if session.scalar(select(SavedView.id).where(func.lower(SavedView.name) == clean.lower())):
        raise Conflict(f"a view named {clean!r} exists already")
    view = SavedView(
        name=clean,
        kind=paging.one_of("kind", kind, KINDS),
        condition=stored(parse(condition)),
        owner_id=viewer.user_id,
        sharing=paging.one_of("sharing", sharing, SHARING_MODES),
        sharing_access=paging.one_of("access", access_, SHARING_ACCESS),
        created_at=now,
        updated_at=now,
    )
    session.add(view)
    _flush(session, clean)
    return view


def update_view(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    new_name: str | None = None,
    condition: Any = None,
    sharing: str | None = None,
    access_: str | None = None,
    now: datetime,
) -> SavedView:
    """Change a view the viewer may edit; what is not given stays."""
    view = view_for(session=session, viewer=viewer, name=name, edit=True)
    if new_name is not None and _name(new_name).lower() != view.name.lower():
        taken = select(SavedView.id).where(func.lower(SavedView.name) == _name(new_name).lower())
        if session.scalar(taken):
            raise Conflict(f"a view named {_name(new_name)!r} exists already")
    if new_name is not None:
        view.name = _name(new_name)
    if condition is not None:
        view.condition = stored(parse(condition))
    if sharing is not None:
        view.sharing = paging.one_of("sharing", sharing, SHARING_MODES)
    if access_ is not None:
        view.sharing_access = paging.one_of("access", access_, SHARING_ACCESS)
    view.updated_at = now
    _flush(session, view.name)
    return view


def delete_view(*, session: Session, viewer: Viewer, name: str) -> str:
    """Delete a view the viewer may edit; its name."""
    view = view_for(session=session, viewer=viewer, name=name, edit=True)
    session.execute(delete(SavedView).where(SavedView.id == view.id))
    return view.name


def visible(viewer: Viewer) -> ColumnElement[bool]:
    """A condition true for the views the viewer sees (the rule of `core.access.reach`)."""
    person = viewer.person
    if person.role == "admin":
        return true()
    seen: list[ColumnElement[bool]] = [SavedView.sharing == "everyone"]
    if person.user_id is not None:
        seen.append(SavedView.owner_id == person.user_id)
    mates = sorted(person.groupmates)
    if mates:
        seen.append(and_(SavedView.sharing == "team", SavedView.owner_id.in_(mates)))
        if person.role == "manager":
            seen.append(SavedView.owner_id.in_(mates))
    return or_(*seen)


def rows(session: Session, viewer: Viewer, views: list[SavedView]) -> list[ViewRow]:
    """Views as listing rows (with whether the viewer may edit each)."""
    owners = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_({v.owner_id for v in views}))
        ).all()
    )
    return [
        ViewRow(
            v.id, v.name, v.kind, v.condition, describe(condition_of(v)),
            owners.get(v.owner_id) if v.owner_id else None, v.sharing, v.sharing_access,
            reach(viewer.person, _shared(v)) >= Reach.EDIT,
        )
        for v in views
    ]  # fmt: skip


def _flush(session: Session, name: str) -> None:
    """Write; a name taken meanwhile (or differing only in a case SQL does not fold) is 409."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a view named {name!r} exists already") from None


def _shared(view: SavedView) -> Shared:
    return Shared(view.owner_id, view.sharing, view.sharing_access)


def _name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("name: a view needs a name of 1 to 200 characters")
    return name


def _an_id(text: str) -> bool:
    """Whether a name given is an id: ASCII digits within what the databases hold."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID
