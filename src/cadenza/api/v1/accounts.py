"""Accounts (companies) and saved views: thin routes over services.accounts and audiences."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cadenza.api.deps import ClockDep, SessionDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Model, PathId
from cadenza.core.definition import Condition
from cadenza.services import accounts as service
from cadenza.services import audiences
from cadenza.services.audiences.views import stored
from cadenza.services.contacts import ContactRow
from cadenza.services.contacts.listing import rows as contact_rows
from cadenza.services.paging import Page
from cadenza.store.models import Contact

router = APIRouter(tags=["accounts"], route_class=ApiRoute)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Domain = Annotated[str, Field(min_length=1, max_length=253)]
Sharing = Literal["private", "team", "everyone"]
Access = Literal["view", "edit"]


class AccountOut(BaseModel):
    id: int
    name: str
    domains: list[str]
    owner: str | None = Field(description="The owner's email: whom `company_owner` names")
    fields: dict[str, Any]
    contacts: int = Field(description="How many contacts belong to it")


class NewAccount(Model):
    name: Name
    domains: list[Domain] = Field(default_factory=list, max_length=100)
    owner: str | None = Field(None, max_length=320)
    fields: dict[str, Any] = Field(default_factory=dict)


class AccountChange(Model):
    """Only what is given changes; `owner: ""` removes the owner; `domains` replaces them."""

    name: Name | None = None
    domains: list[Domain] | None = Field(None, max_length=100)
    owner: str | None = Field(None, max_length=320)
    fields: dict[str, Any] | None = None
    add_contacts: list[int] = Field(default_factory=list, max_length=10_000)


def _out(session: Any, account_id: int) -> AccountOut:
    return AccountOut(**asdict(service.account_row(session=session, account=account_id)))


@router.get("/accounts", responses=PAGED)
def list_accounts(
    request: Request,
    response: Response,
    session: SessionDep,
    search: str | None = Query(None, max_length=200, description="In the name or a domain"),
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[AccountOut]:
    """Accounts by name, a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    page = service.page_accounts(session=session, search=search, limit=limit, cursor=cursor)
    rows = [AccountOut(**asdict(row)) for row in page.rows]
    return paged(request, response, Page(rows, page.next, page.total))


@router.post("/accounts", status_code=201, responses=CONFLICT | FORBIDDEN)
def create_account(
    body: NewAccount, response: Response, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> AccountOut:  # fmt: skip
    """Create an account; a domain taken by another account is 409."""
    made = service.create_account(
        session=session, viewer=viewer, name=body.name, domains=body.domains, owner=body.owner,
        fields=body.fields, now=clock.now(),
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/accounts/{made.id}"
    return _out(session, made.id)


@router.get("/accounts/{account_id}", responses=MISSING)
def show_account(account_id: PathId, session: SessionDep) -> AccountOut:
    """One account."""
    return _out(session, service.get_account(session=session, account=account_id).id)


@router.get("/accounts/{account_id}/contacts", responses=PAGED | MISSING)
def account_contacts(
    account_id: PathId,
    request: Request,
    response: Response,
    session: SessionDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[ContactRow]:
    """The account's contacts in id order, a page at a time."""
    from cadenza.services import paging

    found = service.get_account(session=session, account=account_id)
    query = select(Contact).where(Contact.account_id == found.id)
    page = paging.fetch(
        session, query, paging.Order((Contact.id,), (int,)), limit=limit, cursor=cursor
    )
    rows = contact_rows(session, [row[0] for row in page.rows])
    return paged(request, response, Page(rows, page.next, page.total))


@router.patch("/accounts/{account_id}", responses=MISSING | CONFLICT | FORBIDDEN)
def change_account(
    account_id: PathId, body: AccountChange, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> AccountOut:  # fmt: skip
    """Change an account; `add_contacts` puts contacts in it."""
    found = service.update_account(
        session=session, viewer=viewer, account=account_id, name=body.name, domains=body.domains,
        owner=body.owner, fields=body.fields, now=clock.now(),
    )  # fmt: skip
    for contact_id in body.add_contacts:
        service.set_contact_account(
            session=session, viewer=viewer, contact_id=contact_id, account=found.id,
            now=clock.now(),
        )  # fmt: skip
    return _out(session, found.id)


@router.delete("/accounts/{account_id}", status_code=204, responses=MISSING | FORBIDDEN)
def delete_account(
    account_id: PathId, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> Response:
    """Delete an account; its contacts stay, without an account."""
    service.delete_account(session=session, viewer=viewer, account=account_id, now=clock.now())
    return Response(status_code=204)


class ViewOut(BaseModel):
    id: int
    name: str
    kind: Literal["contacts", "accounts"]
    condition: dict[str, Any]
    description: str = Field(description="The condition in plain words")
    owner: str | None
    sharing: Sharing
    access: Access
    editable: bool = Field(description="Whether the caller may change it")


class NewView(Model):
    name: Name
    kind: Literal["contacts", "accounts"] = "contacts"
    condition: Condition
    sharing: Sharing = "private"
    access: Access = "view"


class ViewChange(Model):
    name: Name | None = None
    condition: Condition | None = None
    sharing: Sharing | None = None
    access: Access | None = None


def _view_out(session: Any, viewer: Any, name: str) -> ViewOut:
    found = audiences.view_for(session=session, viewer=viewer, name=name)
    return ViewOut(**asdict(audiences.views.rows(session, viewer, [found])[0]))


@router.get("/views", responses=PAGED)
def list_views(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    kind: Literal["contacts", "accounts"] | None = None,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[ViewOut]:
    """The views the caller sees, by name, a page at a time."""
    page = audiences.page_views(
        session=session, viewer=viewer, kind=kind, limit=limit, cursor=cursor
    )
    rows = [ViewOut(**asdict(row)) for row in page.rows]
    return paged(request, response, Page(rows, page.next, page.total))


@router.post("/views", status_code=201, responses=CONFLICT | FORBIDDEN)
def create_view(
    body: NewView, response: Response, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> ViewOut:  # fmt: skip
    """Save a view (owned by the caller)."""
    made = audiences.create_view(
        session=session, viewer=viewer, name=body.name, condition=stored(body.condition),
        kind=body.kind, sharing=body.sharing, access_=body.access, now=clock.now(),
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/views/{made.id}"
    return _view_out(session, viewer, str(made.id))


@router.get("/views/{view_id}", responses=MISSING)
def show_view(view_id: PathId, session: SessionDep, viewer: ViewerDep) -> ViewOut:
    """One view the caller sees."""
    return _view_out(session, viewer, str(view_id))


@router.patch("/views/{view_id}", responses=MISSING | FORBIDDEN | CONFLICT)
def change_view(
    view_id: PathId, body: ViewChange, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> ViewOut:  # fmt: skip
    """Change a view the caller may edit (403 when they may only see it)."""
    found = audiences.update_view(
        session=session, viewer=viewer, name=str(view_id), new_name=body.name,
        condition=None if body.condition is None else stored(body.condition),
        sharing=body.sharing, access_=body.access, now=clock.now(),
    )  # fmt: skip
    return _view_out(session, viewer, str(found.id))


@router.delete("/views/{view_id}", status_code=204, responses=MISSING | FORBIDDEN)
def delete_view(view_id: PathId, session: WriteSessionDep, viewer: ViewerDep) -> Response:
    """Delete a view the caller may edit."""
    audiences.delete_view(session=session, viewer=viewer, name=str(view_id))
    return Response(status_code=204)
