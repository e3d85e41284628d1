"""Server-rendered UI: Jinja2 templates, one stylesheet and a small hand-written script."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Serve the UI's pages and static files on `app`."""
    from cadenza.web.pages import router

    app.include_router(router)
