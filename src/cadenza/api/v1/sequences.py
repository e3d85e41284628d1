"""Sequences: list, show, apply a definition, lifecycle, clone, delete, migrate."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.errors import (
    InvalidDefinition,
    PayloadTooLarge,
    Refused,
    UnsupportedMediaType,
)
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, UNSUPPORTED, Instant, Key, Model
from cadenza.errors import DefinitionError, ValidationFailed
from cadenza.services import audiences
from cadenza.services import sequences as service
from cadenza.services.paging import Page
from cadenza.services.sequences.pages import page_sequences

router = APIRouter(prefix="/sequences", tags=["sequences"], route_class=ApiRoute)

SOURCE = "definition"  # the file name problems are reported against
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
JSON_TYPE = "application/json"
MAX_BYTES = 1_000_000  # a definition is a few kilobytes; templates included, far below this
Action = Literal["activate", "pause", "resume", "end", "archive"]
SequenceStatus = Literal["draft", "active", "paused", "ended", "archived"]
ACTIONS: dict[str, Callable[..., int | None]] = {
    "activate": service.activate,
    "pause": service.pause,
    "resume": service.resume,
    "end": service.end,
    "archive": service.archive,
}


class SequenceRow(BaseModel):
    name: str
    status: str
    steps: int
    version: int
    enrolled: int
    description: str
    owner: str | None
    sharing: Literal["private", "team", "everyone"]
    access: Literal["view", "edit"]
    created_at: Instant
    updated_at: Instant


class VersionRow(BaseModel):
    number: int
    digest: str
    created_at: Instant


class Line(BaseModel):
    kind: str = Field(description="email or sms")
    address: str
    name: str
    per_hour: int | None
    per_day: int | None
    managed: bool = Field(description="False: no sender row describes it (no caps apply)")


class SequenceDetail(SequenceRow):
    team: list[str] = Field(description="Additional team members: they work its tasks")
    senders: list[Line] = Field(description="The mailboxes and lines it sends from")
    versions: list[VersionRow]
    definition: dict[str, Any]
    audience: AudienceOut | None = Field(None, description="Its standing entry rule, if any")


class AudienceOut(BaseModel):
    """A sequence's audience: its rule, count, last evaluation and the next."""

    rule: str = Field(description="The rule in plain words")
    view: str | None
    every_minutes: int
    matched_total: int | None = Field(description="Contacts it has matched so far")
    evaluated_at: datetime | None
    next_at: datetime | None = Field(description="When it is evaluated next at the latest")
    last: dict[str, Any] | None = Field(description="What the last evaluation did")
    error: str | None


class DefinitionBody(Model):
    definition: str = Field(max_length=MAX_BYTES, description="The definition's YAML or JSON text")


class Applied(BaseModel):
    name: str
    version: int
    result: str = Field(description="created, updated (a new version) or unchanged")


class ActionDone(BaseModel):
    name: str
    action: Action
    status: str
    enrollments: int = Field(description="How many enrollments the action held, released or ended")


class SharingBody(Model):
    mode: Literal["private", "team", "everyone"] | None = Field(
        None, description="private: the owner (and managers, team); team: the owner's groups"
    )
    access: Literal["view", "edit"] | None = Field(None, description="What sharing lets do")
    team: list[Annotated[str, Field(max_length=320)]] | None = Field(
        None, max_length=1000, description="Emails of the users who work its tasks (replaces)"
    )


class CloneBody(Model):
    name: str = Field(min_length=1, max_length=200, description="The copy's name")


class MigrateBody(Model):
    to_version: int = Field(ge=1, le=2**31 - 1)
    map: dict[Key, Key] = Field(
        default_factory=dict, max_length=1000, description="old step key -> new step key"
    )


class Migrated(BaseModel):
    sequence: str
    to_version: int
    moved: dict[str, int] = Field(description="former version number -> enrollments moved")
    restarted: list[int] = Field(description="enrollments whose wait restarted: due now")


def _location(name: str) -> str:
    return f"/api/v1/sequences/{quote(name, safe='')}"


async def _definition_text(request: Request) -> str:
    """The posted definition: YAML or JSON text as the body, or JSON {"definition": text}."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge(f"a definition is limited to {MAX_BYTES} bytes")
    if media in YAML_TYPES:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("the definition is not UTF-8 text") from None
    if media == JSON_TYPE:
        return _unwrapped(body)
    raise UnsupportedMediaType(
        f'post the definition as application/yaml, text/yaml or {JSON_TYPE} {{"definition": …}}'
    )


def _unwrapped(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed(f"the body is not JSON: {exc}") from None
    try:
        return DefinitionBody.model_validate(data).definition
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _linted(text: Annotated[str, Depends(_definition_text)]) -> service.Source:
    # A dependency, so that lint runs before the write transaction takes its lock.
    try:
        return service.lint_source(text, SOURCE)
    except RecursionError:
        raise ValidationFailed("the definition is nested too deeply to read") from None
    except DefinitionError as exc:
        raise InvalidDefinition(exc.problems) from None


_BODY = {
    "required": True,
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "text/yaml": {"schema": {"type": "string"}},
        JSON_TYPE: {"schema": DefinitionBody.model_json_schema()},
    },
}


@router.get("", responses=PAGED)
def list_sequences(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    status: SequenceStatus | None = None,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[SequenceRow]:
    """The sequences the caller sees, with their latest version and live enrollments, by
    name, a page at a time (`Link: rel="next"`, `X-Total-Count`)."""
    page = page_sequences(session=session, status=status, limit=limit, cursor=cursor, viewer=viewer)
    rows = [SequenceRow(**row.as_dict()) for row in page.rows]
    return paged(request, response, Page(rows, page.next, page.total))


@router.get("/{name}", responses=MISSING)
def show_sequence(name: str, session: SessionDep, viewer: ViewerDep) -> SequenceDetail:
    """A sequence, its sharing and team, the lines it sends from, its versions and definition,
    and its audience (rule, count, last and next evaluation)."""
    detail = service.sequence_detail(session=session, name=name, viewer=viewer)
    found, definition = audiences.evaluating.sequence_definition(session=session, name=name)
    status = audiences.status(session=session, sequence_id=found.id, definition=definition)
    audience = AudienceOut(**dataclasses.asdict(status)) if status is not None else None
    return SequenceDetail(**detail, audience=audience)


@router.post(
    "",
    responses={201: {"model": Applied, "description": "A new sequence"}}
    | UNSUPPORTED
    | FORBIDDEN
    | CONFLICT,
    openapi_extra={"requestBody": _BODY},
)
def apply_definition(
    linted: Annotated[service.Source, Depends(_linted)],
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    response: Response,
) -> Applied:
    """Lint and store a definition: 201 created, 200 updated (a new version) or unchanged.

    Without `owner`, a new sequence belongs to the caller; creating needs the privilege to
    create sequences, a new version the right to edit this one.
    """
    try:
        [result] = service.apply_sources(
            session=session, sources=[linted], now=clock.now(), viewer=viewer, settings=settings
        )
    except service.UnknownReferences as exc:
        raise Refused(str(exc), exc.missing) from None
    if result.created:
        response.status_code = 201
        response.headers["Location"] = _location(result.name)
    return Applied(name=result.name, version=result.version, result=result.verb)


@router.put("/{name}/sharing", responses=MISSING | FORBIDDEN)
def share_sequence(
    name: str, body: SharingBody, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> SequenceDetail:
    """Change who shares a sequence (needs the right to edit it): mode, access, team."""
    service.change_sharing(
        session=session,
        name=name,
        now=clock.now(),
        mode=body.mode,
        level=body.access,
        team=body.team,
        viewer=viewer,
    )
    return SequenceDetail(**service.sequence_detail(session=session, name=name, viewer=viewer))


@router.post("/{name}/clone", status_code=201, responses=MISSING | FORBIDDEN | CONFLICT)
def clone_sequence(
    name: str,
    body: CloneBody,
    session: WriteSessionDep,
    clock: ClockDep,
    viewer: ViewerDep,
    response: Response,
) -> SequenceDetail:
    """Copy the latest version into a new draft sequence owned by the caller."""
    service.clone(
        session=session,
        name=name,
        new_name=body.name,
        now=clock.now(),
        actor=viewer.actor,
        viewer=viewer,
    )
    response.headers["Location"] = _location(body.name)
    return SequenceDetail(**service.sequence_detail(session=session, name=body.name))


@router.post("/{name}/migrate", responses=MISSING | FORBIDDEN)
def migrate_sequence(
    name: str, body: MigrateBody, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> Migrated:
    """Move the running enrollments of other versions to `to_version`, all of them or none."""
    report = service.migrate(
        session=session,
        sequence=name,
        to_version=body.to_version,
        step_map=body.map,
        now=clock.now(),
        actor=viewer.actor,
        viewer=viewer,
    )
    moved = {str(version): count for version, count in sorted(report.moved.items())}
    return Migrated(
        sequence=name, to_version=body.to_version, moved=moved, restarted=report.restarted
    )


# Registered after the fixed-word routes above: `{action}` would otherwise take `clone`.
@router.post("/{name}/{action}", responses=MISSING | FORBIDDEN | CONFLICT)
def act_on_sequence(
    name: str,
    action: Action,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> ActionDone:
    """activate, pause, resume, end (irreversible) or archive a sequence; an activation past
    the owner's plan limit is 409 with the reason."""
    count = ACTIONS[action](
        session=session,
        name=name,
        now=clock.now(),
        actor=viewer.actor,
        viewer=viewer,
        settings=settings,
    )
    sequence, _ = service.get_sequence(session=session, name=name)
    return ActionDone(name=name, action=action, status=sequence.status, enrollments=count or 0)


@router.delete(
    "/{name}", status_code=204, response_class=Response, responses=MISSING | FORBIDDEN | CONFLICT
)
def delete_sequence(
    name: str, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> None:
    """Delete a sequence nobody was ever enrolled in (409 otherwise: end and archive it)."""
    service.delete(session=session, name=name, now=clock.now(), actor=viewer.actor, viewer=viewer)
