"""The dry-run timeline of one contact through a stored sequence (as `cadenza simulate`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from cadenza.api.deps import ClockDep, SessionDep, ViewerDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.schemas import MISSING, Id, Instant, Key, Model
from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.core.simulation import simulate
from cadenza.errors import ValidationFailed
from cadenza.services.contacts import load_view
from cadenza.services.sequences import latest_definition

router = APIRouter(prefix="/sequences", tags=["sequences"], route_class=ApiRoute)

HORIZON = timedelta(days=365)  # how far a timeline runs when `until` is not given


class SimulatedEvent(Model):
    name: str = Field(min_length=1, max_length=100, description="replied, opened, bounced, ...")
    time: Instant
    step: str | None = Field(
        None, max_length=100, description="The step it answers (opened, clicked)"
    )


class SimulateBody(Model):
    contact: ContactView | None = Field(None, description="A contact as JSON (a contacts row)")
    contact_id: Id | None = Field(None, description="Or a stored contact")
    start: Instant | None = Field(None, description="Enrollment time; default now")
    until: Instant | None = Field(None, description="Stop here; default a year after start")
    events: list[SimulatedEvent] = Field(default_factory=list, max_length=1000)
    outcomes: dict[Key, Key] = Field(
        default_factory=dict, max_length=1000, description="manual step -> outcome"
    )

    @model_validator(mode="after")
    def _one_contact(self) -> SimulateBody:
        if (self.contact is None) == (self.contact_id is None):
            raise ValueError("give either contact or contact_id")
        return self


class TimelineRow(BaseModel):
    kind: str
    step: str | None
    action: str | None
    local_time: str = Field(description="In the contact's (or the sequence's) time zone")
    utc_time: str
    reasons: list[str]
    detail: str


class Timeline(BaseModel):
    sequence: str
    version: int
    zone: str
    ending: str
    rows: list[TimelineRow]


def _contact(session: Session, body: SimulateBody) -> ContactView:
    if body.contact_id is None:
        return body.contact or ContactView()  # the body's validator makes it the contact
    return load_view(session=session, contact_id=body.contact_id)


@router.post("/{name}/simulate", responses=MISSING)
def simulate_sequence(
    name: str, body: SimulateBody, session: SessionDep, clock: ClockDep, viewer: ViewerDep
) -> Timeline:
    """When each step would fire for a contact, and why it moved; nothing is written."""
    version, definition = latest_definition(session=session, name=name, viewer=viewer)
    contact = _contact(session, body)
    unknown = [key for key in body.outcomes if key not in {s.key for s in definition.steps}]
    if unknown:
        raise ValidationFailed(f"outcomes: no step {', '.join(map(repr, unknown))} in {name!r}")
    start = body.start or clock.now()
    events = [EventRecord(type=e.name, time=e.time, step=e.step) for e in body.events]
    try:
        timeline = simulate(
            definition,
            contact,
            start=start,
            events=events,
            outcomes=body.outcomes,
            until=body.until or start + HORIZON,
        )
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed(str(exc)) from None
    rows = [TimelineRow.model_validate(row.as_json()) for row in timeline.rows]
    return Timeline(
        sequence=name, version=version.number, zone=timeline.zone, ending=timeline.ending, rows=rows
    )
