"""Bad input on a page gets a page in return: a 404 or 4xx in the layout, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from cadenza.errors import CadenzaError, Forbidden
from cadenza.web import auth
from cadenza.web.rendering import page

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """The friendly error page."""
    context = {"status": status, "title": title, "detail": detail}
    return page(request, "error.html", context, status=status)


class PageRoute(APIRoute):
    """A page for people who are logged in; errors and bad parameters become HTML pages."""

    public = False

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        public = self.public

        async def guarded(request: Request) -> Response:
            try:
                _check_origin(request)
                refusal = await auth.admit(request, public=public)
                response = refusal if refusal is not None else await handler(request)
            except CadenzaError as exc:
                response = error_page(request, exc.status, exc.title, str(exc))
            except RequestValidationError as exc:
                response = _invalid(request, exc)
            if not public:  # a page of someone's work stays out of caches (and the back button)
                response.headers.setdefault("Cache-Control", "no-store")
            return auth.finish(request, response)

        return guarded


class PublicPageRoute(PageRoute):
    """A page anyone may open: logging in, a forgotten password, an invitation's link."""

    public = True


def _invalid(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    # A path parameter that cannot be an id names nothing that exists: that is a 404.
    if any(tuple(e.get("loc", ()))[:1] == ("path",) for e in errors):
        return error_page(request, 404, "Not found", f"nothing at {request.url.path}")
    fields = ", ".join(str(tuple(e.get("loc", ()))[-1]) for e in errors)
    return error_page(request, 422, "Invalid input", f"check these fields: {fields}")


def _check_origin(request: Request) -> None:
    """Refuse a form posted from another site (before, and besides, its CSRF token)."""
    if request.method != "POST":
        return
    origin = request.headers.get("origin")
    # A sandboxed frame posts with Origin "null": refused too, as it is no page of ours.
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden(f"a form from {origin} may not change anything here")


def page_router(*, public: bool = False) -> APIRouter:
    """A router for pages (behind the login unless public), not in the API's OpenAPI schema."""
    route_class = PublicPageRoute if public else PageRoute
    return APIRouter(route_class=route_class, include_in_schema=False)
