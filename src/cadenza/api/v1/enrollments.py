"""Enrollments: enroll contacts, list, pause/resume/stop/skip/retry, remove."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.v1.schemas import CONFLICT, MISSING, Id, Model, PathId
from cadenza.core.definition import Condition
from cadenza.services import enrollments as service
from cadenza.services.enrollments import EnrollmentRow
from cadenza.settings import Settings
from cadenza.store.models import Enrollment

router = APIRouter(prefix="/enrollments", tags=["enrollments"])

Action = Literal["pause", "resume", "stop", "skip", "retry"]


class EnrollBody(Model):
    sequence: str = Field(max_length=200)
    contact_ids: list[Id] = Field(
        default_factory=list,
        max_length=10_000,
        description="Up to 10,000 ids at once (more: enroll by tag or condition)",
    )
    tag: str | None = Field(None, max_length=100, description="Everyone with this tag")
    where: Condition | None = Field(None, description="Everyone matching this condition")

    @model_validator(mode="after")
    def _someone(self) -> EnrollBody:
        if not self.contact_ids and self.tag is None and self.where is None:
            raise ValueError("give contact_ids, tag or where")
        return self


class Refusal(BaseModel):
    contact_id: int
    reason: str


class EnrollReport(BaseModel):
    sequence: str
    enrolled: list[int] = Field(description="Contact ids enrolled")
    refused: list[Refusal]


def _operations(settings: Settings) -> dict[str, Callable[..., Enrollment]]:
    return {
        "pause": service.pause_enrollment,
        "resume": service.resume_enrollment,
        "stop": service.stop,
        "skip": partial(service.skip_to_next, settings=settings),
        "retry": partial(service.retry_step, settings=settings),
    }


def _row(session: Session, enrollment: Enrollment) -> EnrollmentRow:
    rows = service.list_enrollments(session=session, contact_id=enrollment.contact_id)
    return next(r for r in rows if r["id"] == enrollment.id)


@router.post("", responses=MISSING | CONFLICT)
def enroll(
    body: EnrollBody,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> EnrollReport:
    """Enroll contacts by id, tag or condition; each refusal comes with its reason."""
    report = service.enroll_audience(
        session=session,
        sequence=body.sequence,
        contact_ids=body.contact_ids,
        tag=body.tag,
        where=body.where,
        now=clock.now(),
        settings=settings,
        initiator_id=viewer.user_id,
        actor=viewer.actor,
        viewer=viewer,
    )
    refused = [Refusal(contact_id=cid, reason=reason) for cid, reason in report.refused]
    return EnrollReport(sequence=report.sequence, enrolled=report.enrolled, refused=refused)


@router.get("")
def list_all(
    session: SessionDep,
    viewer: ViewerDep,
    sequence: str | None = None,
    status: str | None = None,
) -> list[EnrollmentRow]:
    """Enrollments of the sequences the caller sees, with their status, step and due time."""
    rows = service.list_enrollments(
        session=session, sequence=sequence, status=status, viewer=viewer
    )
    return rows


@router.post("/{enrollment_id}/{action}", responses=MISSING | CONFLICT)
def act_on_enrollment(
    enrollment_id: PathId,
    action: Action,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> EnrollmentRow:
    """pause, resume, stop (pause and cancel its tasks), skip to the next step, retry a step."""
    operation = _operations(settings)[action]
    enrollment = operation(
        session=session,
        enrollment_id=enrollment_id,
        now=clock.now(),
        actor=viewer.actor,
        viewer=viewer,
    )
    return _row(session, enrollment)


@router.delete(
    "/{enrollment_id}",
    status_code=204,
    response_class=Response,
    responses=MISSING | CONFLICT,
)
def remove(
    enrollment_id: PathId, session: WriteSessionDep, clock: ClockDep, viewer: ViewerDep
) -> None:
    """Remove an enrollment as if it never was: its history, tasks and unsent messages go
    (needs the right to edit its sequence)."""
    service.remove(
        session=session,
        enrollment_id=enrollment_id,
        now=clock.now(),
        actor=viewer.actor,
        viewer=viewer,
    )
