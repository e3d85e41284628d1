"""Tasks: people's to-do list, and completing a task with an outcome."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.routes import ApiRoute
from cadenza.api.v1.paging import DEFAULT, PAGED, Cursor, Limit, paged
from cadenza.api.v1.schemas import CONFLICT, MISSING, Instant, Model, PathId
from cadenza.services.tasks import TaskRow, complete_task
from cadenza.services.tasks.listing import TaskFilter, page_tasks

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=ApiRoute)
TaskStatus = Literal["open", "done", "skipped", "canceled", "error"]


class Completion(Model):
    outcome: str = Field(min_length=1, max_length=100, description="e.g. no_answer, interested")


class TaskDone(BaseModel):
    id: int
    enrollment_id: int | None
    contact_id: int
    step: str | None
    kind: str
    status: str
    outcome: str | None
    completed_at: Instant | None


@router.get("", responses=PAGED)
def list_all(
    request: Request,
    response: Response,
    session: SessionDep,
    viewer: ViewerDep,
    assignee: Annotated[
        str | None, Query(max_length=320, description="A user's email, or `unassigned`")
    ] = None,
    status: Annotated[TaskStatus | None, Query(description="open, done, ...")] = None,
    sequence: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=32, description="call, task, ...")] = None,
    limit: Limit = DEFAULT,
    cursor: Cursor = None,
) -> list[TaskRow]:
    """The caller's tasks and those of the sequences they see, soonest due first, a page at
    a time (`Link: rel="next"`, `X-Total-Count`)."""
    wanted = TaskFilter(assignee=assignee, status=status, sequence=sequence, kind=kind)
    page = page_tasks(session=session, where=wanted, limit=limit, cursor=cursor, viewer=viewer)
    return paged(request, response, page)


@router.post("/{task_id}/complete", responses=MISSING | CONFLICT)
def complete(
    task_id: PathId,
    body: Completion,
    session: WriteSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
) -> TaskDone:
    """Complete a task (one's own, or one of a sequence one works on as owner, team member
    or manager); the enrollment it holds follows the outcome's route."""
    task = complete_task(
        session=session,
        task_id=task_id,
        outcome=body.outcome,
        now=clock.now(),
        settings=settings,
        actor=viewer.actor,
        viewer=viewer,
    )
    return TaskDone.model_validate(task, from_attributes=True)
