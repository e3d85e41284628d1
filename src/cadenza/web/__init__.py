"""Server-rendered UI: Jinja2 templates, one stylesheet and a small hand-written script."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Serve the UI's pages and static files on `app`, and security headers on all of it."""
    from cadenza.web.apidocs import router as api_docs
    from cadenza.web.headers import SecurityHeaders
    from cadenza.web.pages import router

    app.include_router(router)
    app.include_router(api_docs)
    app.add_middleware(SecurityHeaders)
