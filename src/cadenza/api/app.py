"""The FastAPI app factory: the API under /api/v1, the UI under /, problem-details errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cadenza import __version__
from cadenza.clock import Clock, SystemClock
from cadenza.engine.embedded import EmbeddedEngine
from cadenza.errors import CadenzaError
from cadenza.settings import Settings, get_settings
from cadenza.store.db import make_engine, session_factory

PROBLEM = "application/problem+json"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    embedded_worker: bool = False,
) -> FastAPI:
    """Build the application; everything it needs hangs off `app.state`."""
    settings = settings or get_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    embedded = EmbeddedEngine(sessions, clock, settings, worker=embedded_worker)

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
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.embedded_worker = embedded_worker
    _install_problem_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    from cadenza.api.inbound import router as inbound
    from cadenza.api.v1 import mount
    from cadenza.web.pages import router as pages

    mount(app)
    app.include_router(inbound)
    app.include_router(pages)
    return app


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(CadenzaError)
    async def _cadenza(_request: Request, exc: CadenzaError) -> JSONResponse:
        extra: dict[str, Any] = {}
        problems = getattr(exc, "problems", None)
        if problems:
            extra["errors"] = [str(p) for p in problems]
        return problem(exc.status, exc.title, str(exc), **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(422, "Invalid input", "the request does not fit the schema", errors=errors)
