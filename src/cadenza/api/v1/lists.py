"""Lists: named sets of contacts; a sequence bound to one (`enrollment.list`) follows them.

Adding members enrolls them in the active sequence the list serves (or resumes the
enrollment their removal paused); removing pauses their enrollment at its step.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Id, Model
from cadenza.services import lists as service
from cadenza.services.paging import Page

router = APIRouter(prefix="/lists", tags=["lists"], route_class=ApiRoute)
Name = Annotated[str, Path(min_length=1, max_length=200)]


class ListOut(BaseModel):
    id: int
    name: str
    members: int
    sequence: str | None = Field(description="The active sequence the list serves, if any")
    created_by: str
    created_at: str


class MemberOut(BaseModel):
    contact_id: int
    first_name: str
    last_name: str
    email: str | None
    added_at: str


class NewList(Model):
    name: str = Field(min_length=1, max_length=200)


class Members(Model):
    """Contacts by id, and/or everyone with a tag."""

    contact_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    tag: str | None = Field(None, min_length=1, max_length=100)


class Refusal(BaseModel):
    contact_id: int
    reason: str


class MembersOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    list_name: str = Field(alias="list")
    sequence: str | None
    changed: list[int] = Field(description="Added (or removed) by this request")
    unchanged: list[int] = Field(description="Already members (or not members)")
    enrolled: list[int]
    resumed: list[int]
    paused: list[int]
    refused: list[Refusal]


@router.get("", responses=PAGED)
def list_lists(
    request: Request,
    response: Response,
    session: SessionDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[ListOut]:
    """Lists by name, with their member counts and the sequence each serves."""
    page = service.list_lists(session=session, limit=limit, cursor=cursor)
    return paged(
        request, response, Page([ListOut(**r.as_json()) for r in page.rows], page.next, page.total)
    )


@router.post("", status_code=201, responses=CONFLICT | FORBIDDEN)
def create_list(
    body: NewList, response: Response, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> ListOut:
    """Make an empty list (admins and managers); 409 when the name is taken."""
    row = service.create_list(session=session, name=body.name, now=clock.now(), viewer=viewer)
    response.headers["Location"] = f"/api/v1/lists/{quote(row.name, safe='')}"
    return ListOut(**row.as_json())


@router.get("/{list_name}", responses=MISSING)
def show_list(list_name: Name, session: SessionDep) -> ListOut:
    """One list, its member count and the sequence it serves."""
    return ListOut(**service.get_list(session=session, name=list_name).as_json())


@router.delete(
    "/{list_name}",
    status_code=204,
    response_class=Response,
    responses=MISSING | CONFLICT | FORBIDDEN,
)
def delete_list(list_name: Name, session: WriteSessionDep, viewer: ViewerDep) -> Response:
    """Delete a list that serves no active sequence (contacts and enrollments stay)."""
    service.delete_list(session=session, name=list_name, viewer=viewer)
    return Response(status_code=204)


@router.get("/{list_name}/members", responses=PAGED | MISSING)
def list_members(
    list_name: Name,
    request: Request,
    response: Response,
    session: SessionDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[MemberOut]:
    """A list's members by contact id, a page at a time."""
    page = service.list_members(session=session, name=list_name, limit=limit, cursor=cursor)
    return paged(
        request,
        response,
        Page([MemberOut(**r.as_json()) for r in page.rows], page.next, page.total),
    )


@router.post("/{list_name}/members", responses=MISSING | FORBIDDEN)
def add_members(
    list_name: Name,
    body: Members,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> MembersOut:
    """Add contacts: each is enrolled in the list's sequence, resumed there, or refused."""
    report = service.add_members(
        session=session, name=list_name, contact_ids=list(body.contact_ids), tag=body.tag,
        now=clock.now(), settings=settings, viewer=viewer,
    )  # fmt: skip
    return _report(report)


@router.post("/{list_name}/members/remove", responses=MISSING | FORBIDDEN)
def remove_members(
    list_name: Name, body: Members, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> MembersOut:
    """Take contacts off: their enrollment in the list's sequence pauses at its step."""
    report = service.remove_members(
        session=session, name=list_name, contact_ids=list(body.contact_ids), tag=body.tag,
        now=clock.now(), viewer=viewer,
    )  # fmt: skip
    return _report(report)


def _report(report: service.MembersReport) -> MembersOut:
    data: dict[str, Any] = report.as_json()
    return MembersOut(**data)
