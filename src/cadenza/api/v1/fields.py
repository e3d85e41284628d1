"""Custom field definitions: the types contacts' custom fields are checked against."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import Field

from cadenza.api.deps import ClockDep, SessionDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.schemas import CONFLICT, FORBIDDEN, MISSING, Model
from cadenza.core.field_types import KINDS
from cadenza.services import contacts as service
from cadenza.services.contacts import FieldRow

router = APIRouter(prefix="/contact-fields", tags=["contacts"], route_class=ApiRoute)
Name = Annotated[str, Path(min_length=1, max_length=100)]


class NewField(Model):
    name: str = Field(
        min_length=1, max_length=100, description="As conditions name it: fields.NAME"
    )
    kind: str = Field(description=" | ".join(KINDS))
    label: str = Field("", max_length=200)
    choices: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=200, description="A choice field's values"
    )


@router.get("")
def list_fields(session: SessionDep) -> list[FieldRow]:
    """Every defined custom field, in name order."""
    return service.list_fields(session=session)


@router.post("", status_code=201, responses=CONFLICT | FORBIDDEN)
def define_field(
    body: NewField, response: Response, session: WriteSessionDep, clock: ClockDep,
    viewer: ViewerDep,
) -> FieldRow:  # fmt: skip
    """Define a custom field's type (managers and admins); the same name again is 409."""
    row = service.define_field(
        session=session, name=body.name, kind=body.kind, choices=body.choices, label=body.label,
        now=clock.now(), viewer=viewer,
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/contact-fields/{row['name']}"
    return row


@router.delete("/{name}", status_code=204, response_class=Response, responses=MISSING | FORBIDDEN)
def delete_field(
    name: Name, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> Response:
    """Forget a custom field's type (contacts keep their values)."""
    service.delete_field(session=session, name=name, now=clock.now(), viewer=viewer)
    return Response(status_code=204)
