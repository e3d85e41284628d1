"""Tasks: people's to-do list, and completing a task with an outcome."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cadenza.api.deps import ClockDep, SessionDep, SettingsDep, ViewerDep, WriteSessionDep
from cadenza.api.v1.schemas import CONFLICT, MISSING, Instant, Model, PathId
from cadenza.services.tasks import TaskRow, complete_task, list_tasks

router = APIRouter(prefix="/tasks", tags=["tasks"])


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


@router.get("")
def list_all(
    session: SessionDep, viewer: ViewerDep, assignee: str | None = None, status: str | None = None
) -> list[TaskRow]:
    """The caller's tasks and those of the sequences they see, soonest due first."""
    rows = list_tasks(session=session, assignee=assignee, status=status, viewer=viewer)
    return rows


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
