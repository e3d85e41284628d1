"""Enrollments: enroll contacts, list, pause/resume/stop/skip/retry, remove."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, MISSING, Id, Model, PathId, QueryId
from cadenza.core.definition import Condition
from cadenza.errors import NotFound
from cadenza.services import audiences
from cadenza.services import enrollments as service
from cadenza.services.enrollments import EnrollmentRow
from cadenza.services.enrollments.listing import page_enrollments
from cadenza.services.users.access import OPERATOR, Viewer
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Sequence

router = APIRouter(prefix="/enrollments", tags=["enrollments"], route_class=ApiRoute)

Action = Literal["pause", "resume", "stop", "skip", "retry"]
EnrollmentStatus = Literal["active", "waiting", "paused", "completed", "exited", "removed"]


class EnrollBody(Model):
    sequence: str = Field(max_length=200)
    contact_ids: list[Id] = Field(
        default_factory=list,
        max_length=10_000,
        description="Up to 10,000 ids at once (more: enroll by tag or condition)",
    )
    tag: str | None = Field(None, max_length=100, description="Everyone with this tag")
    where: Condition | None = Field(None, description="Everyone matching this condition")
    account: str | None = Field(
        None,
        max_length=200,
        description="An account (name or id): its contacts in the sequence's audience",
    )
    view: str | None = Field(None, max_length=200, description="The contacts a saved view shows")

    @model_validator(mode="after")
    def _someone(self) -> EnrollBody:
        named = bool(self.contact_ids) or self.tag is not None or self.where is not None
        groups = (self.account is not None) + (self.view is not None)
        if groups > 1 or (groups and named):
            raise ValueError("account and view go alone")
        if not named and not groups:
            raise ValueError("give contact_ids, tag, where, account or view")
        return self


class Refusal(BaseModel):
    contact_id: int
    reason: str


class EnrollReport(BaseModel):
    sequence: str
    enrolled: list[int] = Field(description="Contact ids enrolled")
    refused: list[Refusal]


def _created(response: Response, session: Session, sequence: str, contact_ids: list[int]) -> None:
    """201 with the new enrollment's URL, or the listing of the sequence's (many new ones);
    200 when nobody was enrolled (nothing was created)."""
    if not contact_ids:
        response.status_code = 200
        return
    if len(contact_ids) == 1:
        query = (
            select(Enrollment.id)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(Sequence.name == sequence, Enrollment.contact_id == contact_ids[0])
            .order_by(Enrollment.id.desc())
            .limit(1)
        )
        response.headers["Location"] = f"/api/v1/enrollments/{session.scalar(query)}"
        return
    response.headers["Location"] = "/api/v1/enrollments?" + urlencode({"sequence": sequence})


def _operations(settings: Settings) -> dict[str, Callable[..., Enrollment]]:
    return {
        "pause": service.pause_enrollment,
        "resume": service.resume_enrollment,
        "stop": service.stop,
        "skip": partial(service.skip_to_next, settings=settings),
        "retry": partial(service.retry_step, settings=settings),
    }


def _row(session: Session, enrollment_id: int, viewer: Viewer = OPERATOR) -> EnrollmentRow:
    found = session.scalar(select(Enrollment.contact_id).where(Enrollment.id == enrollment_id))
    if found is not None:
        for row in service.list_enrollments(session=session, contact_id=found, viewer=viewer):
            if row["id"] == enrollment_id:
                return row
    raise NotFound(f"no enrollment {enrollment_id}")


@router.post("", status_code=201, responses=MISSING | CONFLICT)
def enroll(
    body: EnrollBody,
    response: Response,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> EnrollReport:
    """Enroll contacts by id, tag, condition, account or view; each refusal comes with its
    reason."""
    if body.account is not None or body.view is not None:
        common: dict[str, Any] = {
            "session": session, "viewer": viewer, "sequence": body.sequence,
            "now": clock.now(), "settings": settings,
        }  # fmt: skip
        report = (
            audiences.enroll_account(account=body.account, **common)
            if body.account is not None
            else audiences.enroll_view(view=str(body.view), **common)
        )
        refused = [Refusal(contact_id=cid, reason=reason) for cid, reason in report.refused]
        _created(response, session, report.sequence, report.enrolled)
        return EnrollReport(sequence=report.sequence, enrolled=report.enrolled, refused=refused)
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
    _created(response, session, report.sequence, report.enrolled)
    return EnrollReport(sequence=report.sequence, enrolled=report.enrolled, refused=refused)


@router.get("", responses=PAGED)
def list_all(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    sequence: Annotated[str | None, Query(max_length=200)] = None,
    status: EnrollmentStatus | None = None,
    contact: QueryId = None,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[EnrollmentRow]:
    """Enrollments of the sequences the caller sees, in id order, a page at a time
    (`Link: rel="next"`, `X-Total-Count`)."""
    page = page_enrollments(
        session=session,
        sequence=sequence,
        status=status,
        contact_id=contact,
        limit=limit,
        cursor=cursor,
        viewer=viewer,
    )
    return paged(request, response, page)


@router.get("/{enrollment_id}", responses=MISSING)
def show_enrollment(enrollment_id: PathId, session: SessionDep, viewer: ViewerDep) -> EnrollmentRow:
    """One enrollment of a sequence the caller sees."""
    return _row(session, enrollment_id, viewer)


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
    return _row(session, enrollment.id)


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
