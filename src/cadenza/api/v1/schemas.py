"""Types shared by the API's routers: instants, problem details, the documented errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from cadenza.clock import in_range
from cadenza.store.models import MAX_ID as MAX_ID

PROBLEM = "application/problem+json"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
# A name in a request's mapping (a custom field, a step key): short, as a person writes it.
Key = Annotated[str, Field(max_length=100)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _iso(value: datetime) -> str:
    return value.isoformat()


# Out: ISO 8601 with an offset ("+00:00", as the CLI's --json prints). In: naive means UTC.
Instant = Annotated[
    datetime,
    AfterValidator(in_range),
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Model(BaseModel):
    """Request bodies refuse fields they do not know (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` lists each problem when there are several."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[Any] | None = None


def _problem(description: str) -> dict[str, Any]:
    schema = Problem.model_json_schema()
    return {"description": description, "content": {PROBLEM: {"schema": schema}}}


Responses = dict[int | str, dict[str, Any]]
# Answered before the route runs (the Host allow-list, the body caps): documented everywhere.
LIMITS: Responses = {
    400: _problem("Bad request: a Host this server does not answer to, or a malformed request"),
    413: _problem("Payload too large: the body is over this route's cap"),
}
# Documented on every route; 422 replaces FastAPI's default (ours is a problem, not HTTPError).
ERRORS: Responses = {
    401: _problem("No API key, or not a valid one"),
    403: _problem("Forbidden: the key belongs to no user, or the user may not do this"),
    422: _problem("Invalid input: `errors` says where"),
    **LIMITS,
}
MISSING: Responses = {404: _problem("Not found: no such sequence, contact, enrollment or task")}
CONFLICT: Responses = {409: _problem("Conflict: not in a state that allows this")}
FORBIDDEN: Responses = {403: _problem("Forbidden: the caller's role or access does not allow this")}
UNSUPPORTED: Responses = {415: _problem("Unsupported media type: `detail` names the right one")}
