"""The composition root: the API, the UI and the embedded engine assembled into one app.

Nothing else assembles: `api` and `web` each hand over their routes, `engine` its loops, and
the CLI's `serve` asks this module for the application.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from cadenza import __version__, api, web
from cadenza.api.limits import RequestLimits
from cadenza.clock import Clock, SystemClock
from cadenza.engine.embedded import RESTART_AFTER, EmbeddedEngine
from cadenza.settings import Settings, get_settings
from cadenza.store.db import make_engine, session_factory


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    embedded_worker: bool = False,
    restart_after: float = RESTART_AFTER,
) -> FastAPI:
    """Build the application; everything it needs hangs off `app.state`."""
    settings = settings or get_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    embedded = EmbeddedEngine(
        sessions, clock, settings, worker=embedded_worker, restart_after=restart_after
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        embedded.start()
        try:
            yield
        finally:
            embedded.stop()
            engine.dispose()

    app = FastAPI(
        title="Cadenza",
        lifespan=lifespan,
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by the UI from vendored files (web/apidocs.py): no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.embedded_worker = embedded_worker
    api.mount(app)
    web.mount(app)
    # Outermost of the app's own layers: a bad Host or an oversized body costs no work.
    app.add_middleware(RequestLimits, settings=settings)

    app.state.embedded = embedded

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 when the process and its embedded worker do their work; 503 with why, if not."""
        body: dict[str, object] = {"status": "ok", "version": __version__}
        if embedded.worker:
            body["worker"] = embedded.health.as_json(SystemClock().now())
        if not embedded.healthy():
            body["status"] = "unhealthy"
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    return app
