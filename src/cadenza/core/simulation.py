"""The dry-run timeline: a contact's path through a sequence, by the same transition function."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cadenza.core import calendar, machine, reach, variants
from cadenza.core.contact import ContactView, with_flags_of
from cadenza.core.decisions import (
    LIVE,
    CreateTask,
    Decision,
    EnrollmentState,
    HistoryEntry,
    StepFailed,
)
from cadenza.core.definition import (
    Definition,
    EmailStep,
    ManualStepBase,
    MmsStep,
    NotifyStep,
    SmsStep,
    Step,
    WebhookStep,
)
from cadenza.core.events import EventRecord
from cadenza.core.templates import TemplateError, build_variables, render

MAX_TRANSITIONS = 2000
SHOWN = {
    "enrolled",
    "step_executed",
    "skipped",
    "task_created",
    "task_completed",
    "waiting",
    "step_error",
    "paused",
    "exited",
    "completed",
    "event",
}


@dataclass
class TimelineRow:
    """One line of the timeline."""

    kind: str
    step: str | None
    action: str | None
    time: datetime
    local_time: str
    reasons: list[str] = field(default_factory=list)
    detail: str = ""
    variant: str | None = None  # the A/B variant the step sent, for an A/B step

    def as_json(self) -> dict[str, object]:
        shown: dict[str, object] = {"variant": self.variant} if self.variant else {}
        return {
            "kind": self.kind,
            "step": self.step,
            "action": self.action,
            "local_time": self.local_time,
            "utc_time": self.time.isoformat(),
            "reasons": self.reasons,
            "detail": self.detail,
        } | shown


@dataclass
class Timeline:
    rows: list[TimelineRow]
    ending: str
    zone: str


class _Recorder:
    """Turns decisions' history into rows, carrying scheduling reasons to the step they moved."""

    def __init__(self, definition: Definition, contact: ContactView, enrollment_id: int) -> None:
        self.definition, self.enrollment_id = definition, enrollment_id
        self.zone = calendar.recipient_zone(definition.schedule, contact.timezone)
        self.rows: list[TimelineRow] = []
        self.pending: dict[str, list[str]] = {}

    def take(self, decision: Decision) -> None:
        for entry in decision.history:
            self._entry(entry)

    def event(self, event: EventRecord) -> None:
        self._row("event", None, event.time, [], event.type)

    def _entry(self, entry: HistoryEntry) -> None:
        reasons = list(entry.data.get("reasons") or [])
        if entry.type in ("scheduled", "deferred"):
            if entry.step:
                self.pending.setdefault(entry.step, []).extend(reasons)
            return
        if entry.type not in SHOWN:
            return
        moved = self.pending.pop(entry.step, []) if entry.step and entry.type != "enrolled" else []
        if entry.type == "enrolled" and entry.data.get("next"):
            self.pending.setdefault(str(entry.data["next"]), []).extend(reasons)
        self._row(entry.type, entry.step, entry.time, moved, entry.reason or "")

    def _row(
        self, kind: str, step: str | None, time: datetime, reasons: list[str], detail: str
    ) -> None:
        action = self._action(step) if kind not in ("enrolled", "exited", "completed") else None
        local = time.astimezone(self.zone).isoformat()
        variant = None
        if kind == "step_executed" and step:
            chosen = variants.pick(self.definition.step(step), self.enrollment_id)
            variant = chosen.key if chosen else None
        self.rows.append(TimelineRow(kind, step, action, time, local, reasons, detail, variant))

    def _action(self, key: str | None) -> str | None:
        try:
            return self.definition.step(key).action if key else None
        except KeyError:
            return None


class DryRenderer:
    """The dry run's Renderer: what production would refuse to send, refused the same way.

    It checks the sender a step needs and renders its templates for the contact (the owner's
    `user.*` blank: a dry run knows no users), so that a template that fails or a missing
    sender shows as the error task production would make.
    """

    def __init__(self, definition: Definition, enrollment_id: int = 0) -> None:
        self.definition, self.enrollment_id = definition, enrollment_id

    def render(
        self, step: Step, contact: ContactView, visit: int, check: reach.SendCheck | None
    ) -> None:
        """Raise StepFailed where production could not write the step's message."""
        senders = self.definition.senders
        kind = reach.of(step.action).sender
        own = getattr(step, "sender", None)
        if kind == "email" and not (own or senders.email or senders.email_rotation):
            raise StepFailed("no email sender: set senders.email or the step's sender")
        if kind == "sms" and not (own or senders.sms):
            raise StepFailed("no SMS sender: set senders.sms or the step's sender")
        variables = build_variables(
            contact,
            sender={"email": senders.email or "", "sms": senders.sms or ""},
            sequence={"name": self.definition.name},
        )
        step = variants.apply(step, variants.pick(step, self.enrollment_id))
        for what, text, html in _templates(step):
            try:
                render(text, variables, html=html)
            except TemplateError as exc:
                raise StepFailed(f"{what}: {exc}") from None


def _templates(step: Step) -> list[tuple[str, str, bool]]:
    """A step's templates: (what, text, rendered as HTML)."""
    if isinstance(step, EmailStep):
        return [("subject", step.subject, False), ("body", step.body, True)]
    if isinstance(step, NotifyStep):
        return [("subject", step.subject, False), ("body", step.body, step.via == "email")]
    if isinstance(step, SmsStep | MmsStep):
        return [("body", step.body, False)]
    if isinstance(step, WebhookStep):
        headers = [(f"header {name}", value, False) for name, value in step.headers.items()]
        return [("url", step.url, False), *headers]
    return []


def default_outcome(step: ManualStepBase) -> str:
    """The outcome a dry run assumes when none is given: the first one that carries on."""
    routes = step.outcome_routes()
    return next((name for name, route in routes.items() if route == "next"), next(iter(routes)))


def simulate(
    definition: Definition,
    contact: ContactView,
    *,
    start: datetime,
    events: Iterable[EventRecord] = (),
    outcomes: dict[str, str] | None = None,
    until: datetime | None = None,
    quiet: calendar.QuietHours = calendar.DEFAULT_QUIET,
    enrollment_id: int = 0,
) -> Timeline:
    """Run one enrollment from `start` to its end (or `until`), events arriving on time.

    `enrollment_id`: whose A/B variants to show (the ones that enrollment gets).
    """
    outcomes = outcomes or {}
    recorder = _Recorder(definition, contact, enrollment_id)
    upcoming = sorted(events, key=lambda e: e.time)
    seen: list[EventRecord] = []
    sit = machine.Situation(
        definition,
        contact,
        now=start,
        quiet=quiet,
        renderer=DryRenderer(definition, enrollment_id),
    )
    decision = machine.enroll(sit)
    recorder.take(decision)
    state = decision.state
    for _ in range(MAX_TRANSITIONS):
        due = state.due_at if state.status in LIVE else None
        if upcoming and (due is None or upcoming[0].time <= due):
            if until is not None and upcoming[0].time > until:
                break
            event = upcoming.pop(0)
            seen.append(event)
            sit.now, sit.events = event.time, list(seen)
            sit.contact = with_flags_of(sit.contact, event.type)
            recorder.event(event)
            decision = machine.on_event(sit, state, event)
        elif due is not None and (until is None or due <= until):
            sit.now, sit.events = max(due, sit.now), list(seen)
            decision = machine.advance(sit, state)
        else:
            break
        recorder.take(decision)
        state = _complete_tasks(sit, decision, outcomes, recorder)
        if state.status == "waiting" and (state.waiting or {}).get("kind") == "task":
            break  # a step in error: nothing moves until a person fixes it
    return Timeline(recorder.rows, _ending(state, until), str(recorder.zone))


def _complete_tasks(
    sit: machine.Situation, decision: Decision, outcomes: dict[str, str], recorder: _Recorder
) -> EnrollmentState:
    """A dry run's people do their tasks at once, with the outcome asked for (or the default)."""
    state = decision.state
    for effect in decision.effects:
        if not isinstance(effect, CreateTask) or effect.status != "open" or effect.reminder:
            continue
        step: Step = sit.definition.step(effect.step)
        assert isinstance(step, ManualStepBase)
        outcome = outcomes.get(step.key) or default_outcome(step)
        done = machine.complete_task(sit, state, step.key, outcome)
        recorder.take(done)
        state = done.state
        if state.status == "active" and state.due_at is not None and state.due_at <= sit.now:
            more = machine.advance(sit, state)
            recorder.take(more)
            state = _complete_tasks(sit, more, outcomes, recorder)
    return state


def _ending(state: EnrollmentState, until: datetime | None) -> str:
    if state.status == "completed":
        if state.outcome in ("positive", "negative"):
            return f"ended {state.outcome}"
        return "completed"
    if state.status == "exited":
        return f"exited: {state.exit_reason}"
    if state.status == "waiting" and (state.waiting or {}).get("kind") == "task":
        return f"blocked at {state.step}: a task in error needs a person"
    if until is not None:
        return f"still {state.status} at {until.isoformat()}, next: {state.step}"
    return f"still {state.status}"
