"""A definition in words for the sequence page: its send policy, its steps and their routes."""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.core.calendar import describe_wait
from cadenza.core.definition import (
    BranchStep,
    Definition,
    EmailStep,
    EndRoute,
    EndStep,
    ManualStepBase,
    Route,
    Schedule,
    Step,
    WaitElapsed,
    WaitForStep,
)
from cadenza.core.machine.exits import exit_events

DAY_NAMES = {"business": "business days (Mon to Fri)", "every_day": "every day"}
# Attributes worth a glance, by step action, in the order they are shown.
GLANCE = ("subject", "body", "tag", "disposition", "field", "to", "url", "owner", "sequence")


@dataclass(frozen=True)
class StepLine:
    """One step as the steps table shows it."""

    number: int
    key: str
    action: str
    wait: str
    detail: str
    conditional: bool


def route_text(route: Route | None) -> str:
    """Where a route leads, in words."""
    if route is None or route == "next":
        return "next step"
    if isinstance(route, EndRoute):
        return f"ends {route.end}"
    return f"go to {route}"


def schedule_lines(definition: Definition) -> list[tuple[str, str]]:
    """The send policy as label/value pairs."""
    schedule = definition.schedule
    lines = [
        ("Time zone", _zone(schedule)),
        ("Days", _days(schedule)),
        ("Hours", _hours(schedule)),
        ("Holidays", _holidays(schedule)),
        ("Exits on", ", ".join(sorted(exit_events(definition))) or "nothing automatic"),
        ("Re-entry", definition.enrollment.reentry.replace("_", " ")),
    ]
    if schedule.begin or schedule.end:
        window = f"{_date(schedule.begin, 'any time')} to {_date(schedule.end, 'no end')}"
        lines.append(("Runs", window))
    if definition.limits.throttle_per_minute:
        lines.append(("Throttle", f"{definition.limits.throttle_per_minute} steps a minute"))
    return lines


def _zone(schedule: Schedule) -> str:
    if schedule.timezone == "contact":
        return f"the contact's own (else {schedule.fallback_timezone})"
    return schedule.timezone


def _hours(schedule: Schedule) -> str:
    if schedule.hours is None:
        return "any time of day"
    return f"{schedule.hours.open:%H:%M} to {schedule.hours.close:%H:%M}"


def _days(schedule: Schedule) -> str:
    if isinstance(schedule.days, str):
        return DAY_NAMES.get(schedule.days, schedule.days)
    return ", ".join(day.title() for day in schedule.days)


def _holidays(schedule: Schedule) -> str:
    if schedule.run_on_holidays or schedule.holidays == "none":
        return "runs on holidays"
    extra = ", ".join(map(str, schedule.extra_holidays))
    extra = f" and {extra}" if extra else ""
    return f"skipped ({schedule.holidays} calendar{extra})"


def _date(value: object, missing: str) -> str:
    return missing if value is None else str(value)


def step_lines(definition: Definition) -> list[StepLine]:
    """Every step with its wait in words and what it does at a glance."""
    return [
        StepLine(
            number=index,
            key=step.key,
            action=step.action,
            wait=describe_wait(step.wait),
            detail=_detail(step),
            conditional=step.when is not None,
        )
        for index, step in enumerate(definition.steps, start=1)
    ]


def _detail(step: Step) -> str:
    if isinstance(step, ManualStepBase):
        routes = step.outcome_routes().items()
        return "; ".join(f"{name.replace('_', ' ')} → {route_text(r)}" for name, r in routes)
    if isinstance(step, WaitForStep):
        paths = ", ".join(f"{e} → {route_text(r)}" for e, r in step.routes.items())
        timeout = describe_wait(WaitElapsed.model_validate(step.timeout.model_dump()))
        return f"waits up to {timeout} for {', '.join(step.events)}; {paths}"
    if isinstance(step, BranchStep):
        return f"{len(step.branches)} branch(es), otherwise → {route_text(step.otherwise)}"
    if isinstance(step, EndStep):
        return f"ends {step.outcome}"
    if isinstance(step, EmailStep):
        return f"“{step.subject}”"
    for name in GLANCE:
        value = getattr(step, name, None)
        if value:
            text = str(value).strip().replace("\n", " ")
            return text if len(text) <= 90 else text[:89] + "…"
    return ""
