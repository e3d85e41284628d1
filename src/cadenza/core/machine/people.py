"""People's operations on an enrollment (DESIGN.md section 5), as transitions.

Hold and release: a paused enrollment remembers the status it had (`paused_from`) and who
paused it (`paused_by`), so that resuming a sequence releases only what the sequence itself
held. Stop is a person's hold that also resolves the open tasks; remove takes the contact
out as if never enrolled; exit ends the enrollment with a reason; skip moves on now; retry
runs a step in error again; migrate moves the enrollment to another version's step.
Each raises `Refused` (with the reason) when the state does not allow it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from cadenza.core.decisions import (
    LIVE,
    LIVE_OR_PAUSED,
    CloseTasks,
    Decision,
    EnrollmentState,
    Forget,
    HeldBy,
    MoveTasks,
    Refused,
)
from cadenza.core.definition import Definition
from cadenza.core.machine.situation import Situation, finish, leave

TaskClosing = Literal["canceled", "skipped", "done"]


def pause(sit: Situation, state: EnrollmentState, *, by: HeldBy, reason: str) -> Decision:
    """Hold the enrollment; a person's hold takes over a sequence's (and outlasts its resume)."""
    decision = Decision(state.copy())
    _hold(decision.state, by)
    decision.log("paused", sit.now, state.step, reason)
    return decision


def stop(
    sit: Situation, state: EnrollmentState, *, reason: str, tasks: TaskClosing = "canceled"
) -> Decision:
    """A person's hold that also takes the enrollment's open tasks off people's lists, each
    resolved as `tasks` says (canceled, skipped or done: Crelate's disposition on stopping)."""
    decision = Decision(state.copy())
    current = decision.state
    if current.status != "paused" or current.paused_by != "person":
        _hold(current, "person", again=True)
    decision.effects.append(CloseTasks(status=tasks))
    decision.log("stopped", sit.now, state.step, reason)
    return decision


def resume(
    sit: Situation,
    state: EnrollmentState,
    *,
    by: HeldBy,
    reason: str,
    task_open: bool = True,
) -> Decision:
    """Let go of a hold. Under a paused sequence a person's release leaves the sequence's.

    `task_open`: whether the task a stopped enrollment waited on is still open; when it
    was resolved meanwhile, the step runs again, due now.
    """
    if state.status != "paused":
        raise Refused(f"is {state.status}, not paused")
    decision = Decision(state.copy())
    current = decision.state
    name = sit.definition.name
    if by == "sequence":
        if current.paused_by != "sequence":
            raise Refused(f"was paused by {_holder(current)}: it stays paused")
        _release(current)
    elif by == "list":
        if current.paused_by != "list":
            raise Refused(f"was paused by {_holder(current)}: it stays paused")
        _release(current)
    else:
        if sit.sequence_status == "paused" and current.paused_by == "sequence":
            raise Refused(f"is held by the paused sequence {name!r}: resume the sequence")
        reason += _rerun_if_task_gone(sit, current, task_open)
        if sit.sequence_status == "paused":
            current.paused_by = "sequence"  # the person lets go, the sequence's hold remains
            reason += f"; moves when sequence {name!r} resumes"
        else:
            _release(current)
    decision.log("resumed", sit.now, state.step, reason)
    return decision


def remove(sit: Situation, state: EnrollmentState, *, reason: str) -> Decision:
    """Take the contact out as if never enrolled: its history, tasks and unsent messages go.

    The enrollment stays as a tombstone with status `removed`, so that `reentry: never`
    still refuses to enroll the contact again.
    """
    if state.status == "removed":
        raise Refused("is already removed")
    decision = Decision(state.copy())
    current = decision.state
    current.status, current.due_at, current.waiting = "removed", None, None
    current.paused_from = current.paused_by = None
    current.exit_reason = reason
    decision.effects.append(Forget())
    decision.log("removed", sit.now, state.step, reason)
    return decision


def exit(sit: Situation, state: EnrollmentState, *, reason: str) -> Decision:
    """End a running (or paused) enrollment with a reason; a closed one is left as it is."""
    decision = Decision(state.copy())
    if state.status in LIVE_OR_PAUSED:
        leave(decision, sit.now, reason)
    return decision


def skip(sit: Situation, state: EnrollmentState, *, reason: str) -> Decision:
    """Move past the current step without running it: the next one in order is due now."""
    if state.status not in LIVE:
        hint = ": resume it first" if state.status == "paused" else ""
        raise Refused(f"is {state.status}{hint}")
    decision = Decision(state.copy())
    key = str(state.step)
    if state.waiting_on_task:
        decision.effects.append(CloseTasks(step=key))
    decision.log("skipped", sit.now, key, reason)
    index = sit.definition.step_index(key) + 1
    current = decision.state
    current.waiting = None
    if index >= len(sit.definition.steps):
        finish(decision, sit.now, "neutral", "all steps done")
        return decision
    # Due now rather than after the next step's wait: a person asked for it to happen now.
    # The worker still checks the allowed time and limits when it runs it.
    target = sit.definition.steps[index]
    current.status, current.step, current.due_at = "active", target.key, sit.now
    return decision


def retry(sit: Situation, state: EnrollmentState, *, reason: str = "retry requested") -> Decision:
    """Run the step in error again now (after its cause was fixed); its error task is done."""
    if state.status != "waiting" or not state.waiting_on_task:
        raise Refused("has no step in error to retry")
    decision = Decision(state.copy())
    current = decision.state
    current.status, current.waiting, current.due_at = "active", None, sit.now
    decision.effects.append(CloseTasks(status="skipped", errors_only=True))
    decision.log("resumed", sit.now, state.step, reason)
    return decision


def migrate(
    state: EnrollmentState,
    before: Definition,
    target: Definition,
    step_map: dict[str, str],
    now: datetime,
    *,
    reason: str,
) -> tuple[Decision, bool]:
    """Put the enrollment on its mapped step of `target`; True when its wait restarted.

    A wait carries over when the mapped step has the same action (a task follows the step,
    a wait_for takes the new step's events); otherwise the step is due now and the open
    tasks of the old one are canceled.
    """
    decision = Decision(state.copy())
    current = decision.state
    old = str(state.step)
    new = step_map.get(old, old)
    # Visits never go down for a key: idempotency keys (enrollment:step:visit) stay unique.
    for key, count in list(state.visits.items()):
        mapped = step_map.get(key, key)
        current.visits[mapped] = max(current.visits.get(mapped, 0), count)
    current.step = new
    restarted = False
    if current.waiting is not None:
        if before.step(old).action == target.step(new).action:
            current.waiting = {**current.waiting, "step": new}
            if current.waiting["kind"] == "wait_for":
                current.waiting["events"] = list(getattr(target.step(new), "events", []))
            if new != old:
                decision.effects.append(MoveTasks(old, new))
        else:
            current.waiting, current.due_at, restarted = None, now, True
            decision.effects.append(CloseTasks(step=old))
            if current.status == "waiting":
                current.status = "active"
            else:
                current.paused_from = "active"
    decision.log("migrated", now, new, reason, from_step=old, to_step=new, restarted=restarted)
    return decision, restarted


def _hold(state: EnrollmentState, by: HeldBy, *, again: bool = False) -> None:
    if state.status in LIVE:
        state.paused_from, state.status = state.status, "paused"
    elif state.status != "paused":
        raise Refused(f"is {state.status}")
    elif not again and (by == "sequence" or state.paused_by == "person"):
        raise Refused("is already paused")
    state.paused_by = by


def _holder(state: EnrollmentState) -> str:
    return {"list": "its list", "sequence": "its sequence"}.get(str(state.paused_by), "a person")


def _release(state: EnrollmentState) -> None:
    # A due_at that passed meanwhile is simply due now; the worker checks allowed time.
    state.status = state.paused_from or "active"  # type: ignore[assignment]
    state.paused_from = state.paused_by = None


def _rerun_if_task_gone(sit: Situation, state: EnrollmentState, task_open: bool) -> str:
    """A stopped enrollment lost the task it waited on: its step runs again, due now."""
    if state.paused_from != "waiting" or not state.waiting_on_task or task_open:
        return ""
    state.waiting, state.due_at, state.paused_from = None, sit.now, "active"
    return f"; step {state.step} runs again (its task was resolved while stopped)"
