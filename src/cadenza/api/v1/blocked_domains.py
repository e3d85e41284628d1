"""The domain-level do-not-contact list (admins and managers): nobody at a blocked domain
(or a subdomain of one) is reached, on any channel; queued messages are stopped at sending."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from cadenza.api.deps import ClockDep, SessionDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Model
from cadenza.services.contacts import blocked_domains as service
from cadenza.services.paging import Page

router = APIRouter(prefix="/blocked-domains", tags=["blocked domains"], route_class=ApiRoute)
Domain = Annotated[str, Path(min_length=1, max_length=253)]


class BlockedOut(BaseModel):
    domain: str
    reason: str
    created_by: str
    created_at: str


class NewBlocked(Model):
    domain: str = Field(min_length=1, max_length=253, description="e.g. example.com")
    reason: str = Field("", max_length=500)


@router.get("", responses=PAGED | FORBIDDEN)
def list_blocked(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[BlockedOut]:
    """Blocked domains, alphabetically."""
    page = service.page_blocked(session=session, limit=limit, cursor=cursor, viewer=viewer)
    return paged(
        request,
        response,
        Page([BlockedOut(**r.as_json()) for r in page.rows], page.next, page.total),
    )


@router.post("", status_code=201, responses=CONFLICT | FORBIDDEN)
def block(
    body: NewBlocked, response: Response, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> BlockedOut:  # fmt: skip
    """Block a domain; 409 when it is blocked already, 422 when it is not a domain."""
    row = service.block_domain(
        session=session, domain=body.domain, reason=body.reason, now=clock.now(), viewer=viewer
    )
    response.headers["Location"] = f"/api/v1/blocked-domains/{quote(row.domain)}"
    return BlockedOut(**row.as_json())


@router.delete("/{domain}", status_code=204, response_class=Response, responses=MISSING | FORBIDDEN)
def unblock(
    domain: Domain, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> Response:
    """Take a domain off the list."""
    service.unblock_domain(session=session, domain=domain, now=clock.now(), viewer=viewer)
    return Response(status_code=204)
