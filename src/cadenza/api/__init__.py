"""HTTP surface: the REST API under /api/v1 and the inbound webhooks, as thin routers."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Serve the API, its problem-details errors and the inbound endpoints on `app`."""
    from cadenza.api import inbound, operations, problems, provider_webhooks, v1, voice

    problems.install_handlers(app)
    v1.mount(app)
    app.include_router(inbound.router)
    app.include_router(voice.router)
    app.include_router(provider_webhooks.router)
    app.include_router(operations.router)
