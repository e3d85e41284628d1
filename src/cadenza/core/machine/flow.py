"""An enrollment's own course: it starts, steps come due and run, events and tasks move it."""

from __future__ import annotations

from datetime import datetime

from cadenza.core import calendar
from cadenza.core.decisions import LIVE, CloseTasks, Decision, EnrollmentState, Refused
from cadenza.core.definition import (
    POWER_DIALER_LIST,
    Duration,
    ManualStepBase,
    Step,
    WaitForStep,
)
from cadenza.core.events import EventRecord
from cadenza.core.machine.exits import exit_reason_for_event, exit_when
from cadenza.core.machine.situation import MAX_STEPS_PER_CALL, Situation, iso, leave
from cadenza.core.machine.steps import due, execute_due_step, fail, follow, wait_timed_out

ABSENCE_DEFAULT = Duration(days=7)  # an out-of-office reply without a return date


def enroll(sit: Situation, *, depth: int = 0) -> Decision:
    """A new enrollment: the first step scheduled from now (held while the sequence is paused).

    `depth`: how many sequences handed the contact on before (the trigger loop guard).
    """
    first = sit.definition.steps[0]
    state = EnrollmentState("active", first.key, None, sit.now, depth=depth)
    decision = Decision(state)
    try:
        due_at, reasons = due(sit, state, first, previous=sit.now)
    except calendar.NoAllowedTime as exc:
        decision.log("enrolled", sit.now, None, None, next=first.key)
        leave(decision, sit.now, f"{first.key}: {exc}")
        return decision
    state.due_at = due_at
    decision.log(
        "enrolled", sit.now, None, None, next=first.key, due_at=iso(due_at), reasons=reasons
    )
    if sit.sequence_status == "paused":
        # A paused sequence takes enrollments, which wait until it resumes.
        state.status, state.paused_from, state.paused_by = "paused", "active", "sequence"
    return decision


def advance(sit: Situation, state: EnrollmentState, *, owned: bool = False) -> Decision:
    """Execute what is due now, step after step, until something lies in the future.

    `owned`: the caller made `state` for this call alone, so the decision may take it over
    instead of a copy (the worker does, once per step it runs).
    """
    decision = Decision(state if owned else state.copy())
    for _ in range(MAX_STEPS_PER_CALL):
        current = decision.state
        if current.status not in LIVE or current.due_at is None or current.due_at > sit.now:
            return decision
        if current.status == "waiting":
            wait_timed_out(sit, decision)
            continue
        if not execute_due_step(sit, decision):
            return decision
    decision.log("deferred", sit.now, decision.state.step, "too many steps in one pass")
    decision.state.due_at = sit.now
    return decision


def on_event(sit: Situation, state: EnrollmentState, event: EventRecord) -> Decision:
    """An event for the contact reaches a live enrollment: exit, route a wait_for, or pause."""
    decision = Decision(state.copy())
    if state.status not in (*LIVE, "paused"):
        return decision
    reason = exit_reason_for_event(sit, event) or exit_when(sit)
    if reason:
        leave(decision, sit.now, reason)
        return decision
    if state.status == "paused":
        return decision  # only an exit reaches a paused enrollment: nothing else may move it
    waiting = state.waiting or {}
    if waiting.get("kind") == "wait_for" and event.type in waiting.get("events", []):
        step = sit.definition.step(str(waiting["step"]))
        assert isinstance(step, WaitForStep)
        decision.log("step_executed", sit.now, step.key, f"{event.type} arrived", event=event.type)
        follow(sit, decision, step.key, step.route_for(event.type))
    elif event.type == "out_of_office":
        _pause_for_absence(sit, decision, event)
    elif event.type == "dialer_removed" and _in_power_dialer(sit, state, event):
        # "Another step removes it even while the dialer runs": the queued call goes, and
        # the sequence goes on as if the call had not been answered.
        key = str(waiting["step"])
        decision.effects.append(CloseTasks("canceled", step=key))
        decision.log("step_executed", sit.now, key, "removed from the power dialer")
        follow(sit, decision, key, "next")
    return decision


def _in_power_dialer(sit: Situation, state: EnrollmentState, event: EventRecord) -> bool:
    """Whether the enrollment waits on a power-dialer call that this removal takes away."""
    if not state.waiting_on_task or event.data.get("list") != POWER_DIALER_LIST:
        return False
    key = str(state.waiting["step"])  # type: ignore[index]
    return any(s.key == key and s.action == "power_dialer" for s in sit.definition.steps)


def complete_task(sit: Situation, state: EnrollmentState, step_key: str, outcome: str) -> Decision:
    """A person finished the task of a blocking manual step: follow the outcome's route."""
    step = sit.definition.step(step_key)
    if not isinstance(step, ManualStepBase):
        raise Refused(f"step {step_key!r} is not a manual step")
    routes = step.outcome_routes()
    if outcome not in routes:
        raise Refused(
            f"{outcome!r} is not an outcome of step {step_key!r} (one of {', '.join(routes)})"
        )
    decision = Decision(state.copy())
    decision.log("task_completed", sit.now, step_key, f"outcome {outcome}", outcome=outcome)
    if state.status == "waiting" and state.waiting_on_task and state.waiting["step"] == step_key:  # type: ignore[index]
        route = routes[outcome]
        follow(sit, decision, step_key, route if route is not None else "next")
    return decision


def fail_step(sit: Situation, state: EnrollmentState, reason: str) -> Decision:
    """The due step failed outside the machine's own checks: it becomes an error task."""
    decision = Decision(state.copy())
    step: Step = sit.definition.step(str(state.step))
    visit = decision.state.visits.get(step.key, 0) + 1
    decision.state.visits[step.key] = visit
    fail(sit, decision, step, visit, reason)
    return decision


def _pause_for_absence(sit: Situation, decision: Decision, event: EventRecord) -> None:
    until = event.data.get("until")
    resume_at = _instant(until) if isinstance(until, str) else None
    if resume_at is None:
        resume_at = calendar.add_duration(sit.now, ABSENCE_DEFAULT)
    state = decision.state
    if state.status == "active" and state.due_at is not None and state.due_at < resume_at:
        state.due_at = resume_at
    decision.log(
        "paused",
        sit.now,
        state.step,
        f"out of office until {resume_at.date().isoformat()}",
        until=iso(resume_at),
    )


def _instant(text: str) -> datetime | None:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None
