"""How every API collection pages: `limit`, `cursor`, a `Link: rel="next"` header and the
total in `X-Total-Count`; and the check that refuses query parameters a route does not read."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from cadenza.services.paging import DEFAULT_LIMIT, MAX_LIMIT, InvalidParameter, Page

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page (1 to {MAX_LIMIT})")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="Where the page starts: copy it from the previous page's `next` link",
    ),
]
DEFAULT = DEFAULT_LIMIT
# Documented on every collection: the headers a client follows to the rest of the list.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page of the collection",
        "headers": {
            "Link": {
                "description": 'The next page: `<url>; rel="next"` (absent on the last page)',
                "schema": {"type": "string"},
            },
            "X-Total-Count": {
                "description": "How many rows match the filters, over every page",
                "schema": {"type": "integer"},
            },
        },
    }
}


def paged(request: Request, response: Response, page: Page[T]) -> list[T]:
    """The page's rows as the body; the link to the next page and the total as headers."""
    if page.total is not None:
        response.headers["X-Total-Count"] = str(page.total)
    if page.next is not None:
        url = request.url.include_query_params(cursor=page.next)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return page.rows


async def known_parameters(request: Request) -> None:
    """Refuse a query parameter the route does not read (422 naming it): a misspelt filter
    would otherwise be ignored and the answer would look right. (`async`: a few lookups,
    cheaper on the event loop than a hop through the thread pool.)"""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    names = _query_names(route.dependant)  # a walk of a few nodes: cheaper than a cache
    for name in request.query_params:
        if name not in names:
            listed = ", ".join(sorted(names)) or "none"
            raise InvalidParameter(name, f"this route reads no such parameter (it reads: {listed})")


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
