"""Errors as RFC 9457 problem details: Cadenza's own errors and requests that do not fit."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cadenza.errors import CadenzaError

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_handlers(app: FastAPI) -> None:
    """Answer Cadenza's errors and invalid requests with problem details."""

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
