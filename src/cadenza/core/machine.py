"""The transition function (DESIGN.md sections 1 and 5): one pure decision per call.

Given an enrollment's state, its definition, the contact, the events seen and *now*, each entry
point returns a `Decision`: the next state, the effects to apply (outbox messages, contact
changes, tasks) and the history to write. The worker, `cadenza simulate` and the tests all
call these functions; none of them reads a clock, a database or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cadenza.core import calendar
from cadenza.core.conditions import describe, evaluate
from cadenza.core.contact import ContactView
from cadenza.core.decisions import (
    LIVE,
    ChangeContact,
    CreateTask,
    Decision,
    EnrollmentState,
    Send,
)
from cadenza.core.definition import (
    ACTION_CHANNEL,
    AUTOMATIC_MESSAGES,
    CONTACT_CHANGES,
    BranchStep,
    Definition,
    Duration,
    EndRoute,
    EndStep,
    ManualStepBase,
    Route,
    Step,
    WaitForStep,
)
from cadenza.core.events import EventRecord

MAX_STEPS_PER_CALL = 100  # lint refuses loops without waits; this is the last safety net

ABSENCE_DEFAULT = Duration(days=7)  # an out-of-office reply without a return date
# Steps that reach the contact, which do-not-contact forbids.
REACHING_ACTIONS = frozenset(
    {"email", "sms", "mms", "voicemail", "call", "manual_email", "manual_sms", "linkedin"}
)

# Contact flags and the exit names that stand for them.
FLAG_EXITS = {
    "dnc": "dnc",
    "sms_opted_out": "sms_opted_out",
    "email_unsubscribed": "unsubscribed",
    "email_bounced": "bounced",
}


class Limiter(Protocol):
    """Capacity for a step (sequence throttle, sender caps), supplied by the engine."""

    def hold(self, step: Step, now: datetime) -> tuple[datetime, str] | None:
        """None when the step may run now, else when capacity returns and why."""
        ...


@dataclass(slots=True)
class Situation:
    """Everything the machine reads besides the enrollment's own state."""

    definition: Definition
    contact: ContactView
    now: datetime
    events: Sequence[EventRecord] = ()
    sequence_status: str = "active"
    quiet: calendar.QuietHours = calendar.DEFAULT_QUIET
    limiter: Limiter | None = None


# --- entry points -------------------------------------------------------------------------


def enroll(sit: Situation) -> Decision:
    """A new enrollment: the first step scheduled from now."""
    first = sit.definition.steps[0]
    state = EnrollmentState(status="active", step=first.key, due_at=None, enrolled_at=sit.now)
    decision = Decision(state)
    due_at, reasons = _due(sit, state, first, previous=sit.now)
    state.due_at = due_at
    decision.log(
        "enrolled", sit.now, None, None, next=first.key, due_at=_iso(due_at), reasons=reasons
    )
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
            _wait_timed_out(sit, decision)
            continue
        if not _execute_due_step(sit, decision):
            return decision
    decision.log("deferred", sit.now, decision.state.step, "too many steps in one pass")
    decision.state.due_at = sit.now
    return decision


def on_event(sit: Situation, state: EnrollmentState, event: EventRecord) -> Decision:
    """An event for the contact reaches a live enrollment: exit, route a wait_for, or pause."""
    decision = Decision(state.copy())
    if state.status not in (*LIVE, "paused"):
        return decision
    reason = _exit_reason_for_event(sit, event) or _exit_when(sit)
    if reason:
        _exit(decision, sit.now, reason)
        return decision
    if state.status == "paused":
        return decision  # only an exit reaches a paused enrollment: nothing else may move it
    waiting = state.waiting or {}
    if waiting.get("kind") == "wait_for" and event.type in waiting.get("events", []):
        step = sit.definition.step(str(waiting["step"]))
        assert isinstance(step, WaitForStep)
        decision.log("step_executed", sit.now, step.key, f"{event.type} arrived", event=event.type)
        _follow(sit, decision, step.key, step.route_for(event.type))
    elif event.type == "out_of_office":
        _pause_for_absence(sit, decision, event)
    return decision


def complete_task(sit: Situation, state: EnrollmentState, step_key: str, outcome: str) -> Decision:
    """A person finished the task of a blocking manual step: follow the outcome's route."""
    step = sit.definition.step(step_key)
    if not isinstance(step, ManualStepBase):
        raise ValueError(f"step {step_key!r} is not a manual step")
    routes = step.outcome_routes()
    if outcome not in routes:
        raise ValueError(
            f"{outcome!r} is not an outcome of step {step_key!r} (one of {', '.join(routes)})"
        )
    decision = Decision(state.copy())
    decision.log("task_completed", sit.now, step_key, f"outcome {outcome}", outcome=outcome)
    waiting = state.waiting or {}
    if state.status == "waiting" and waiting.get("kind") == "task" and waiting["step"] == step_key:
        route = routes[outcome]
        _follow(sit, decision, step_key, route if route is not None else "next")
    return decision


def retry(sit: Situation, state: EnrollmentState) -> Decision:
    """Run the blocked step again now (after its error was fixed)."""
    decision = Decision(state.copy())
    decision.state.status = "active"
    decision.state.waiting = None
    decision.state.due_at = sit.now
    decision.log("resumed", sit.now, state.step, "retry requested")
    return decision


def skip(sit: Situation, state: EnrollmentState, reason: str) -> Decision:
    """Move past the current step without running it: the next one in order is due now."""
    decision = Decision(state.copy())
    key = str(state.step)
    decision.log("skipped", sit.now, key, reason)
    index = sit.definition.step_index(key) + 1
    current = decision.state
    current.waiting = None
    if index >= len(sit.definition.steps):
        _finish(decision, sit.now, "neutral", "all steps done")
        return decision
    # Due now rather than after the next step's wait: a person asked for it to happen now.
    # The worker still checks the allowed time and limits when it runs it.
    target = sit.definition.steps[index]
    current.status, current.step, current.due_at = "active", target.key, sit.now
    return decision


# --- executing a due step (DESIGN.md section 5, "Executing a due step") ------------------------


def _execute_due_step(sit: Situation, decision: Decision) -> bool:
    """Run the due step; True when the machine should look again (the next may be due too)."""
    state = decision.state
    reason = _exit_reason(sit, state)
    if reason:
        _exit(decision, sit.now, reason)
        return False
    step = sit.definition.step(str(state.step))
    if step.when is not None and not evaluate(step.when, sit.contact, sit.events, sit.now):
        decision.log("skipped", sit.now, step.key, f"condition false: {describe(step.when)}")
        _follow(sit, decision, step.key, "next")
        return True
    try:
        allowed, reasons = _next_allowed(sit, step, sit.now)
    except calendar.NoAllowedTime as exc:
        # Never allowed (past `end`, or a window that always falls in quiet hours): the
        # enrollment ends with the reason rather than sending at a forbidden time.
        _exit(decision, sit.now, str(exc))
        return False
    if allowed > sit.now:
        state.due_at = allowed
        decision.log(
            "deferred", sit.now, step.key, "; ".join(reasons), due_at=_iso(allowed), reasons=reasons
        )
        return False
    held = sit.limiter.hold(step, sit.now) if sit.limiter else None
    if held is not None:
        state.due_at = held[0]
        decision.log(
            "deferred", sit.now, step.key, held[1], due_at=_iso(held[0]), reasons=[held[1]]
        )
        return False
    _run_action(sit, decision, step)
    return True


def _run_action(sit: Situation, decision: Decision, step: Step) -> None:
    state = decision.state
    visit = state.visits.get(step.key, 0) + 1
    state.visits[step.key] = visit
    state.last_step_at = sit.now
    blocked = _compliance_block(sit.contact, step)
    if blocked:
        decision.log("skipped", sit.now, step.key, blocked)
        _follow(sit, decision, step.key, "next")
        return
    missing = _missing_address(sit.contact, step)
    if missing:
        decision.effects.append(CreateTask(step.key, step.action, visit, "error", error=missing))
        decision.log("step_error", sit.now, step.key, missing)
        _block_on_task(decision, step.key)
        return
    if type(step) is BranchStep:  # before the isinstance tests below, slow on pydantic models
        _branch(sit, decision, step)
    elif step.action in AUTOMATIC_MESSAGES:
        decision.effects.append(Send(step.key, step.action, visit))
        decision.log("step_executed", sit.now, step.key, None, action=step.action, visit=visit)
        _follow(sit, decision, step.key, "next")
    elif step.action in CONTACT_CHANGES:
        _change_contact(sit, decision, step)
        _follow(sit, decision, step.key, "next")
    elif isinstance(step, ManualStepBase):
        _manual(sit, decision, step, visit)
    elif isinstance(step, WaitForStep):
        _start_wait_for(sit, decision, step)
    elif isinstance(step, BranchStep):  # a subclass
        _branch(sit, decision, step)
    elif isinstance(step, EndStep):
        decision.log("step_executed", sit.now, step.key, None, action="end")
        _finish(decision, sit.now, step.outcome, f"ended {step.outcome} at step {step.key}")


def _change_contact(sit: Situation, decision: Decision, step: Step) -> None:
    params = step.model_dump(
        mode="json", exclude={"key", "name", "wait", "when", "action"}, by_alias=True
    )
    decision.effects.append(ChangeContact(step.key, step.action, params))
    sit.contact = _applied(sit.contact, step.action, params)
    decision.log("step_executed", sit.now, step.key, None, action=step.action, **params)


def _applied(contact: ContactView, action: str, params: dict[str, object]) -> ContactView:
    """The contact as later steps in this pass see it once the change is made."""
    if action == "add_tag" and params["tag"] not in contact.tags:
        return contact.model_copy(update={"tags": [*contact.tags, params["tag"]]})
    if action == "remove_tag":
        return contact.model_copy(update={"tags": [t for t in contact.tags if t != params["tag"]]})
    if action == "set_disposition":
        return contact.model_copy(update={"disposition": params["disposition"]})
    if action == "set_field":
        name = str(params["field"])
        if name in ContactView.model_fields and name not in ("fields", "tags", "id"):
            return contact.model_copy(update={name: params["value"]})
        return contact.model_copy(update={"fields": {**contact.fields, name: params["value"]}})
    if action == "mark_dnc":
        return contact.model_copy(update={"dnc": True})
    return contact


def _manual(sit: Situation, decision: Decision, step: ManualStepBase, visit: int) -> None:
    decision.effects.append(CreateTask(step.key, step.action, visit, reminder=step.reminder))
    decision.log("task_created", sit.now, step.key, None, kind=step.action, reminder=step.reminder)
    if step.reminder:
        _follow(sit, decision, step.key, "next")
    else:
        _block_on_task(decision, step.key)


def _block_on_task(decision: Decision, key: str) -> None:
    state = decision.state
    state.status, state.step, state.due_at = "waiting", key, None
    state.waiting = {"kind": "task", "step": key}


def _start_wait_for(sit: Situation, decision: Decision, step: WaitForStep) -> None:
    state = decision.state
    state.status, state.step = "waiting", step.key
    state.due_at = calendar.add_duration(sit.now, step.timeout)
    state.waiting = {"kind": "wait_for", "step": step.key, "events": list(step.events)}
    decision.log(
        "waiting", sit.now, step.key, f"for {', '.join(step.events)}", timeout_at=_iso(state.due_at)
    )


def _wait_timed_out(sit: Situation, decision: Decision) -> None:
    state = decision.state
    step = sit.definition.step(str(state.step))
    assert isinstance(step, WaitForStep)
    decision.log("step_executed", sit.now, step.key, "timed out", event="timeout")
    _follow(sit, decision, step.key, step.route_for("timeout"))


def _branch(sit: Situation, decision: Decision, step: BranchStep) -> None:
    for case in step.branches:
        if evaluate(case.when, sit.contact, sit.events, sit.now):
            decision.log("step_executed", sit.now, step.key, describe(case.when), action="branch")
            _follow(sit, decision, step.key, case.to)
            return
    decision.log("step_executed", sit.now, step.key, "no branch matched", action="branch")
    _follow(sit, decision, step.key, step.otherwise)


# --- routes and scheduling ---------------------------------------------------------------------


def _follow(sit: Situation, decision: Decision, from_key: str, route: Route) -> None:
    """Go where the route says: the next step, a named step, or the end."""
    state = decision.state
    state.waiting = None
    if type(route) is not str and isinstance(route, EndRoute):
        _finish(decision, sit.now, route.end, f"ended {route.end} at step {from_key}")
        return
    steps = sit.definition.steps
    if route == "next":
        index = sit.definition.step_index(from_key) + 1
        if index >= len(steps):
            _finish(decision, sit.now, "neutral", "all steps done")
            return
        target = steps[index]
    else:
        target = sit.definition.step(route)
    state.status, state.step = "active", target.key
    due_at, reasons = _due(sit, state, target, previous=sit.now)
    state.due_at = due_at
    decision.log(
        "scheduled",
        sit.now,
        target.key,
        "; ".join(reasons) or None,
        due_at=_iso(due_at),
        reasons=reasons,
    )


def _due(
    sit: Situation,
    state: EnrollmentState,
    step: Step,
    previous: datetime,
) -> tuple[datetime, list[str]]:
    try:
        return calendar.due(
            step.wait,
            previous=previous,
            enrolled_at=state.enrolled_at,
            policy=sit.definition.schedule,
            channel=ACTION_CHANNEL.get(step.action, "none"),
            contact_tz=sit.contact.timezone,
            quiet=sit.quiet,
        )
    except calendar.NoAllowedTime as exc:
        # Nothing allowed ahead: the step comes due now, and executing it ends the
        # enrollment with this reason (see _execute_due_step).
        return previous, [str(exc)]


def _next_allowed(sit: Situation, step: Step, instant: datetime) -> tuple[datetime, list[str]]:
    """The first allowed instant for the step; NoAllowedTime propagates to the caller."""
    return calendar.next_allowed(
        instant,
        sit.definition.schedule,
        ACTION_CHANNEL.get(step.action, "none"),
        sit.contact.timezone,
        quiet=sit.quiet,
    )


def _finish(decision: Decision, now: datetime, outcome: str, reason: str) -> None:
    state = decision.state
    state.status, state.due_at, state.waiting = "completed", None, None
    state.outcome = outcome
    decision.log("completed", now, state.step, reason, outcome=outcome)


def _exit(decision: Decision, now: datetime, reason: str) -> None:
    state = decision.state
    state.status, state.due_at, state.waiting = "exited", None, None
    state.exit_reason = reason
    decision.log("exited", now, state.step, reason)


# --- exits and compliance ----------------------------------------------------------------------


def _exit_reason(sit: Situation, state: EnrollmentState) -> str | None:
    if sit.sequence_status == "ended":
        return "the sequence was ended"
    end = sit.definition.schedule.end
    if end is not None and sit.now >= end:
        return f"past the sequence's end ({end.isoformat()})"
    exit_on = sit.definition.exit.on
    contact = sit.contact
    # Flags are rarely set: one test for all four first.
    if contact.dnc or contact.sms_opted_out or contact.email_unsubscribed or contact.email_bounced:
        for flag, name in FLAG_EXITS.items():
            if getattr(contact, flag) and name in exit_on:
                return f"contact is {name.replace('_', ' ')}"
    for event in sit.events:
        if event.type in exit_on and event.time >= state.enrolled_at:
            return f"{event.type} at {event.time.isoformat()}"
    return _exit_when(sit)


def _exit_when(sit: Situation) -> str | None:
    when = sit.definition.exit.when
    if when is not None and evaluate(when, sit.contact, sit.events, sit.now):
        return f"exit condition met: {describe(when)}"
    return None


def _exit_reason_for_event(sit: Situation, event: EventRecord) -> str | None:
    name = "dnc" if event.type == "dnc_changed" and event.data.get("dnc") else event.type
    if name in sit.definition.exit.on:
        return f"{name} at {event.time.isoformat()}"
    return None


def _compliance_block(contact: ContactView, step: Step) -> str | None:
    """Why this contact may not be reached by this step, if so (checked again at sending)."""
    action = step.action
    if contact.dnc and action in REACHING_ACTIONS:
        return "contact is do-not-contact"
    if action in ("email", "manual_email"):
        if contact.email_unsubscribed:
            return "contact unsubscribed from email"
        if contact.email_bounced:
            return "contact's email bounced"
    if action in ("sms", "mms", "manual_sms") and contact.sms_opted_out:
        return "contact opted out of SMS"
    return None


def _missing_address(contact: ContactView, step: Step) -> str | None:
    if step.action in ("email", "manual_email") and not contact.email:
        return "contact has no email address"
    if step.action in ("sms", "mms", "voicemail", "call", "manual_sms") and not contact.phone:
        return "contact has no phone number"
    return None


def _pause_for_absence(sit: Situation, decision: Decision, event: EventRecord) -> None:
    until = event.data.get("until")
    resume = datetime.fromisoformat(until) if isinstance(until, str) else None
    if resume is None:
        resume = calendar.add_duration(sit.now, ABSENCE_DEFAULT)
    state = decision.state
    if state.status == "active" and state.due_at is not None and state.due_at < resume:
        state.due_at = resume
    decision.log(
        "paused",
        sit.now,
        state.step,
        f"out of office until {resume.date().isoformat()}",
        until=_iso(resume),
    )


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


__all__ = [
    "Limiter",
    "Situation",
    "advance",
    "complete_task",
    "enroll",
    "on_event",
    "retry",
    "skip",
]
