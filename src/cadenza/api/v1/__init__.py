"""The REST API under /api/v1: every route needs an API key of a user and acts with that
user's rights (`services.users.access`); every error is a problem."""

from __future__ import annotations

import logging
from http import HTTPStatus

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from cadenza.api.deps import acting
from cadenza.api.problems import problem
from cadenza.api.v1 import (
    accounts,
    activity,
    blocked_domains,
    contacts,
    enrollments,
    fields,
    reports,
    senders,
    sequences,
    simulate,
    subscriptions,
    tasks,
)
from cadenza.api.v1 import lists as contact_lists
from cadenza.api.v1.paging import known_parameters
from cadenza.api.v1.schemas import ERRORS

PREFIX = "/api/v1"
log = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(acting), Depends(known_parameters)], responses=ERRORS)
# simulate before sequences: its `/{name}/{action}` route would take `/{name}/simulate`.
MODULES = (simulate, sequences, contacts, enrollments, tasks, activity, senders, subscriptions)
for module in (*MODULES, reports, accounts, fields, contact_lists, blocked_domains):
    router.include_router(module.router)


def mount(app: FastAPI) -> None:
    """Serve the API on `app`; HTTP errors under /api/v1 (401, 404, 405...) become problems."""
    app.include_router(router, prefix=PREFIX)
    app.add_exception_handler(HTTPException, _http_problem)
    app.add_exception_handler(DataError, _refused_by_database)
    # Bulk writes (history, imports) reach the driver directly: its errors arrive unwrapped.
    app.add_exception_handler(psycopg.DataError, _refused_by_database)


def _in_api(request: Request) -> bool:
    return request.url.path.startswith(PREFIX + "/")


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not _in_api(request):
        return await http_exception_handler(request, exc)  # the UI keeps FastAPI's answer
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else title
    response = problem(exc.status_code, title, detail)
    response.headers.update(exc.headers or {})
    return response


async def _refused_by_database(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (a NUL character on PostgreSQL...) is bad input."""
    if not _in_api(request):
        raise exc
    # The statement and its parameters stay in the log: they may hold other people's data.
    log.warning("database refused a value", extra={"path": request.url.path, "error": str(exc)})
    detail = "the database cannot store a value of this request (a NUL character?)"
    return problem(422, "Invalid input", detail)
