"""Executing a due step (DESIGN.md section 5), and where its route leads next."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from cadenza.core import calendar, reach
from cadenza.core.conditions import describe, evaluate
from cadenza.core.contact import ContactView
from cadenza.core.decisions import (
    ChangeContact,
    CreateTask,
    Decision,
    EnrollmentState,
    Send,
    StepFailed,
)
from cadenza.core.definition import (
    AUTOMATIC_MESSAGES,
    CONTACT_CHANGES,
    BranchStep,
    EndRoute,
    EndStep,
    ManualStepBase,
    Route,
    Step,
    WaitForStep,
)
from cadenza.core.machine.exits import exit_reason
from cadenza.core.machine.situation import Situation, block_on_task, finish, iso, leave

# What `_applied` does to the contact the later steps of a pass see, by action.
_FIELDS_NOT_SET_BY_NAME = ("fields", "tags", "id", "domain_dnc")  # domain_dnc: read, never set


def execute_due_step(sit: Situation, decision: Decision) -> bool:
    """Run the due step; True when the machine should look again (the next may be due too)."""
    state = decision.state
    reason = exit_reason(sit, state)
    if reason:
        leave(decision, sit.now, reason)
        return False
    step = sit.definition.step(str(state.step))
    if step.when is not None and not evaluate(step.when, sit.contact, sit.events, sit.now):
        decision.log("skipped", sit.now, step.key, f"condition false: {describe(step.when)}")
        follow(sit, decision, step.key, "next")
        return True
    if _blocked(sit, decision, step):
        return True  # a step the contact's flags forbid never waits for its time first
    try:
        allowed, reasons = next_allowed(sit, step, sit.now)
    except calendar.NoAllowedTime as exc:
        # Never allowed (past `end`, or a window that always falls in quiet hours): the
        # enrollment ends with the reason rather than sending at a forbidden time.
        leave(decision, sit.now, str(exc))
        return False
    if allowed > sit.now:
        state.due_at = allowed
        decision.log(
            "deferred", sit.now, step.key, "; ".join(reasons), due_at=iso(allowed), reasons=reasons
        )
        return False
    held = sit.limiter.hold(step, sit.now) if sit.limiter else None
    if held is not None:
        state.due_at = held[0]
        decision.log("deferred", sit.now, step.key, held[1], due_at=iso(held[0]), reasons=[held[1]])
        return False
    run_action(sit, decision, step)
    return True


def run_action(sit: Situation, decision: Decision, step: Step) -> None:
    """The step's action, once its time has come: skipped, failed, or carried out."""
    state = decision.state
    visit = state.visits.get(step.key, 0) + 1
    state.visits[step.key] = visit
    state.last_step_at = sit.now
    row = reach.of(step.action)
    if row.address is not None:
        missing = _missing_address(sit.contact, row)
        if missing:
            fail(sit, decision, step, visit, missing)
            return
    try:
        _act(sit, decision, step, visit)
    except StepFailed as exc:
        fail(sit, decision, step, visit, str(exc))


def _blocked(sit: Situation, decision: Decision, step: Step) -> bool:
    """Skip the step, with the reason, when the contact's flags forbid its action."""
    if not reach.of(step.action).blocked_by:
        return False
    blocked = reach.blocked(step.action, sit.contact)
    if blocked is None:
        return False
    state = decision.state
    state.visits[step.key] = state.visits.get(step.key, 0) + 1
    state.last_step_at = sit.now
    decision.log("skipped", sit.now, step.key, blocked)
    follow(sit, decision, step.key, "next")
    return True


def _act(sit: Situation, decision: Decision, step: Step, visit: int) -> None:
    if type(step) is BranchStep:  # before the isinstance tests below, slow on pydantic models
        _branch(sit, decision, step)
    elif step.action in AUTOMATIC_MESSAGES:
        _send(sit, decision, step, visit)
    elif step.action in CONTACT_CHANGES:
        _change_contact(sit, decision, step)
        follow(sit, decision, step.key, "next")
    elif isinstance(step, ManualStepBase):
        _manual(sit, decision, step, visit)
    elif isinstance(step, WaitForStep):
        _start_wait_for(sit, decision, step)
    elif isinstance(step, BranchStep):  # a subclass
        _branch(sit, decision, step)
    elif isinstance(step, EndStep):
        decision.log("step_executed", sit.now, step.key, None, action="end")
        finish(decision, sit.now, step.outcome, f"ended {step.outcome} at step {step.key}")


def fail(sit: Situation, decision: Decision, step: Step, visit: int, reason: str) -> None:
    """The step could not run: an error task holds the enrollment until a person fixes it."""
    decision.effects.append(
        CreateTask(step.key, step.action, visit, "error", error=reason, contact=sit.contact)
    )
    decision.log("step_error", sit.now, step.key, reason)
    block_on_task(decision.state, step.key)


def _missing_address(contact: ContactView, row: reach.Reach) -> str | None:
    if row.address == "email" and not contact.email:
        return "contact has no email address"
    if row.address == "phone" and not contact.phone:
        return "contact has no phone number"
    return None


def _send(sit: Situation, decision: Decision, step: Step, visit: int) -> None:
    row = reach.of(step.action)
    check = None
    if row.sent:
        zone = calendar.recipient_zone(sit.definition.schedule, sit.contact.timezone)
        check = _send_check(step.action, zone.key, sit.quiet)
    rows = sit.renderer.render(step, sit.contact, visit, check) if sit.renderer else None
    decision.effects.append(Send(step.key, step.action, visit, rows))
    decision.log("step_executed", sit.now, step.key, None, action=step.action, visit=visit)
    follow(sit, decision, step.key, "next")


@lru_cache(maxsize=4096)
def _send_check(action: str, zone: str, quiet: calendar.QuietHours) -> reach.SendCheck:
    """The check a message carries: one per action, zone and quiet hours, not per message."""
    return reach.SendCheck(action, zone, f"{quiet.start:%H:%M}", f"{quiet.end:%H:%M}")


def _change_contact(sit: Situation, decision: Decision, step: Step) -> None:
    params = _params(step)
    if step.action == "set_owner":
        rule = str(params["owner"])
        owner = sit.directory.owner(rule) if sit.directory else _named_user(rule)
        if owner is not None:
            params["owner"] = f"user:{owner}"  # a round robin's pick, made once
    decision.effects.append(ChangeContact(step.key, step.action, params))
    sit.contact = _applied(sit.contact, step.action, params)
    decision.log("step_executed", sit.now, step.key, None, action=step.action, **params)


# A step's parameters, read once per step of a definition (definitions never change): the
# step is kept with them, so that its id is not reused while they are.
_PARAMS: dict[int, tuple[Step, dict[str, Any]]] = {}


def _params(step: Step) -> dict[str, Any]:
    """A contact-change step's parameters (a copy the caller may change)."""
    found = _PARAMS.get(id(step))
    if found is None or found[0] is not step:
        if len(_PARAMS) > 65_536:
            _PARAMS.clear()
        dumped = step.model_dump(
            mode="json", exclude={"key", "name", "wait", "when", "action"}, by_alias=True
        )
        found = _PARAMS[id(step)] = (step, dumped)
    return dict(found[1])


def _named_user(rule: str) -> str | None:
    kind, _, name = rule.partition(":")
    return name.strip().lower() if kind == "user" else None


def _applied(contact: ContactView, action: str, params: dict[str, object]) -> ContactView:
    """The contact as later steps in this pass see it once the change is made."""
    if action == "add_tag" and params["tag"] not in contact.tags:
        return contact.updated(tags=sorted([*contact.tags, str(params["tag"])]))
    if action == "remove_tag":
        return contact.updated(tags=[t for t in contact.tags if t != params["tag"]])
    if action == "set_disposition":
        return contact.updated(disposition=params["disposition"])
    if action == "set_field":
        name = str(params["field"])
        if name in ContactView.model_fields and name not in _FIELDS_NOT_SET_BY_NAME:
            return contact.updated(**{name: params["value"]})
        return contact.updated(fields={**contact.fields, name: params["value"]})
    if action == "set_owner":
        owner = _named_user(str(params["owner"]))
        return contact.updated(owner=owner) if owner else contact
    if action == "mark_dnc":
        return contact.updated(dnc=True)
    return contact


def _manual(sit: Situation, decision: Decision, step: ManualStepBase, visit: int) -> None:
    decision.effects.append(
        CreateTask(step.key, step.action, visit, reminder=step.reminder, contact=sit.contact)
    )
    decision.log("task_created", sit.now, step.key, None, kind=step.action, reminder=step.reminder)
    if step.reminder:
        follow(sit, decision, step.key, "next")
    else:
        block_on_task(decision.state, step.key)


def _start_wait_for(sit: Situation, decision: Decision, step: WaitForStep) -> None:
    state = decision.state
    state.status, state.step = "waiting", step.key
    state.due_at = calendar.add_duration(sit.now, step.timeout)
    state.waiting = {"kind": "wait_for", "step": step.key, "events": list(step.events)}
    decision.log(
        "waiting", sit.now, step.key, f"for {', '.join(step.events)}", timeout_at=iso(state.due_at)
    )


def wait_timed_out(sit: Situation, decision: Decision) -> None:
    """A wait_for step's timeout came: its `timeout` route is followed."""
    step = sit.definition.step(str(decision.state.step))
    assert isinstance(step, WaitForStep)
    decision.log("step_executed", sit.now, step.key, "timed out", event="timeout")
    follow(sit, decision, step.key, step.route_for("timeout"))


def _branch(sit: Situation, decision: Decision, step: BranchStep) -> None:
    for case in step.branches:
        if evaluate(case.when, sit.contact, sit.events, sit.now):
            decision.log("step_executed", sit.now, step.key, describe(case.when), action="branch")
            follow(sit, decision, step.key, case.to)
            return
    decision.log("step_executed", sit.now, step.key, "no branch matched", action="branch")
    follow(sit, decision, step.key, step.otherwise)


# --- routes and scheduling ---------------------------------------------------------------------


def follow(sit: Situation, decision: Decision, from_key: str, route: Route) -> None:
    """Go where the route says: the next step, a named step, or the end."""
    state = decision.state
    state.waiting = None
    if type(route) is not str and isinstance(route, EndRoute):
        finish(decision, sit.now, route.end, f"ended {route.end} at step {from_key}")
        return
    steps = sit.definition.steps
    if route == "next":
        index = sit.definition.step_index(from_key) + 1
        if index >= len(steps):
            finish(decision, sit.now, "neutral", "all steps done")
            return
        target = steps[index]
    else:
        target = sit.definition.step(route)
    state.status, state.step = "active", target.key
    try:
        due_at, reasons = due(sit, state, target, previous=sit.now)
    except calendar.NoAllowedTime as exc:
        # The step could never run (after the sequence's end, or no allowed time at all):
        # the enrollment ends here with the reason, rather than waiting for nothing.
        leave(decision, sit.now, f"{target.key}: {exc}")
        return
    state.due_at = due_at
    decision.log(
        "scheduled",
        sit.now,
        target.key,
        "; ".join(reasons) or None,
        due_at=iso(due_at),
        reasons=reasons,
    )


def due(
    sit: Situation, state: EnrollmentState, step: Step, previous: datetime
) -> tuple[datetime, list[str]]:
    """When the step comes due after `previous`, and the reasons it moved.

    NoAllowedTime when it never can: the caller ends the enrollment with the reason.
    """
    return calendar.due(
        step.wait,
        previous=previous,
        enrolled_at=state.enrolled_at,
        policy=sit.definition.schedule,
        channel=reach.of(step.action).channel or "none",
        contact_tz=sit.contact.timezone,
        quiet=sit.quiet,
    )


def next_allowed(sit: Situation, step: Step, instant: datetime) -> tuple[datetime, list[str]]:
    """The first allowed instant for the step; NoAllowedTime propagates to the caller."""
    return calendar.next_allowed(
        instant,
        sit.definition.schedule,
        reach.of(step.action).channel or "none",
        sit.contact.timezone,
        quiet=sit.quiet,
    )
