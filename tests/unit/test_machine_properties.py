"""Properties of the transition function over random contacts, flags, zones, steps and times.

- No step reaches a contact whose flags forbid it, whatever the sequence.
- Every time the machine schedules a step for is an allowed instant (or the sequence's end).
- A closed enrollment never moves again, whoever asks.
- The machine's verdict on a message equals the dispatcher's last check, for every action,
  flag and zone: what one sends the other lets go, what one skips the other suppresses
  with the same reason, and quiet hours end at the same instant for both.
- Day-N steps come due in their order.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadenza.core import calendar, machine, reach
from cadenza.core.contact import ContactView
from cadenza.core.decisions import CLOSED, CreateTask, EnrollmentState, Refused, Send
from cadenza.core.definition import Definition
from cadenza.core.last_check import check_again
from cadenza.core.machine.situation import Situation
from tests.unit.test_calendar_properties import ZONES

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SENT = [action for action, row in reach.TABLE.items() if row.sent]
STEP_BODIES = {
    "email": {"subject": "Hi", "body": "<p>Hi</p>"},
    "sms": {"body": "Hi"},
    "mms": {"body": "Hi", "media": ["https://x.example/a.png"]},
    "voicemail": {"audio": "https://x.example/a.mp3"},
    "ringless_voicemail": {"recording": "https://x.example/a.mp3"},
    "progressive_dialer": {"group": "closers"},
    "preview_dialer": {"group": "closers"},
    "power_dialer": {"assignee": "contact_owner"},
    "call": {"assignee": "contact_owner"},
    "manual_email": {"assignee": "contact_owner"},
    "manual_sms": {"assignee": "contact_owner"},
    "linkedin": {"assignee": "contact_owner"},
    "task": {"assignee": "contact_owner"},
    "add_tag": {"tag": "x"},
    "webhook": {"url": "https://x.example/hook"},
}
SENDERS = {"email": "a@x.example", "sms": "+13125550100"}
# DESIGN.md section 5, written out rather than read from the reach table (the table is what
# is under test): what each flag forbids.
FORBIDS = {
    "dnc": {"email", "sms", "mms", "voicemail", "call", "manual_email", "manual_sms", "linkedin"},
    "sms_opted_out": {"sms", "mms", "voicemail", "manual_sms"},
    "email_unsubscribed": {"email", "manual_email"},
    "email_bounced": {"email", "manual_email"},
}

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
flag_sets = st.fixed_dictionaries({flag: st.booleans() for flag in reach.FLAGS})
zones = st.sampled_from([*ZONES, None])


def _definition(actions: list[str], days: str = "every_day", **schedule: object) -> Definition:
    steps = [
        {"key": f"s{i}", "action": action, "wait": {"hours": 1} if i else "none",
         **STEP_BODIES[action]}
        for i, action in enumerate(actions)
    ]  # fmt: skip
    return Definition.model_validate(
        {
            "name": "Property",
            "senders": SENDERS,
            "schedule": {"days": days, "holidays": "none", **schedule},
            "exit": {"on": ["replied"]},
            "steps": steps,
        }
    )


def _contact(flags: dict[str, bool], zone: str | None) -> ContactView:
    return ContactView(email="c@x.example", phone="+13125550199", timezone=zone, **flags)


def _run(definition: Definition, contact: ContactView, start: datetime) -> list[object]:
    """Every decision of an enrollment walked to its end, tasks done with their default."""
    sit = Situation(definition, contact, start)
    decision = machine.enroll(sit)
    decisions: list[object] = [decision]
    state = decision.state
    for _ in range(30):
        if state.status == "waiting" and state.waiting_on_task:
            step = str(state.step)
            outcomes = definition.step(step).outcome_routes()  # type: ignore[union-attr]
            decision = machine.complete_task(sit, state, step, next(iter(outcomes)))
        elif state.status in ("active", "waiting") and state.due_at is not None:
            sit.now = max(sit.now, state.due_at)
            decision = machine.advance(sit, state)
        else:
            break
        decisions.append(decision)
        state = decision.state
    return decisions


@PROPERTY
@given(
    actions=st.lists(st.sampled_from(sorted(STEP_BODIES)), min_size=1, max_size=5),
    flags=flag_sets,
    zone=zones,
    start=instants,
)
def test_no_step_reaches_a_contact_whose_flags_forbid_it(
    actions: list[str], flags: dict[str, bool], zone: str | None, start: datetime
) -> None:
    contact = _contact(flags, zone)
    for decision in _run(_definition(actions), contact, start):
        for effect in decision.effects:  # type: ignore[attr-defined]
            if isinstance(effect, Send) or (
                isinstance(effect, CreateTask) and effect.status == "open"
            ):
                action = effect.action if isinstance(effect, Send) else effect.kind
                forbidden = {a for flag, on in flags.items() if on for a in FORBIDS[flag]}
                assert action not in forbidden, (action, flags)


@PROPERTY
@given(
    actions=st.lists(st.sampled_from(["email", "sms", "call", "add_tag"]), min_size=1, max_size=4),
    zone=zones,
    start=instants,
    days=st.sampled_from(["every_day", "business"]),
    opening=st.integers(min_value=0, max_value=12),
)
def test_every_time_a_step_is_scheduled_for_is_allowed(
    actions: list[str], zone: str | None, start: datetime, days: str, opening: int
) -> None:
    hours = {"open": f"{opening:02d}:00", "close": f"{opening + 8:02d}:00"}
    definition = _definition(actions, days=days, hours=hours)
    contact = _contact({}, zone)
    for decision in _run(definition, contact, start):
        state = decision.state  # type: ignore[attr-defined]
        if state.status != "active" or state.due_at is None:
            continue
        step = definition.step(str(state.step))
        channel = reach.of(step.action).channel or "none"
        assert calendar.is_allowed(state.due_at, definition.schedule, channel, zone), (
            step.key,
            state.due_at,
        )


def _closed_state(status: str) -> EnrollmentState:
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    return EnrollmentState(status, "s0", None, start, exit_reason="done")  # type: ignore[arg-type]


@PROPERTY
@given(status=st.sampled_from(CLOSED), now=instants, event=st.sampled_from(["replied", "opened"]))
def test_a_closed_enrollment_never_moves_again(status: str, now: datetime, event: str) -> None:
    from cadenza.core.events import EventRecord

    definition = _definition(["email", "call"])
    sit = Situation(definition, _contact({}, None), now)
    state = _closed_state(status)
    attempts = {
        "advance": lambda: machine.advance(sit, state),
        "on_event": lambda: machine.on_event(sit, state, EventRecord(event, now)),
        "exit": lambda: machine.exit(sit, state, reason="x"),
        "pause": lambda: machine.pause(sit, state, by="person", reason="x"),
        "stop": lambda: machine.stop(sit, state, reason="x"),
        "resume": lambda: machine.resume(sit, state, by="person", reason="x"),
        "skip": lambda: machine.skip(sit, state, reason="x"),
        "retry": lambda: machine.retry(sit, state),
    }
    for name, attempt in attempts.items():
        try:
            decision = attempt()
        except Refused:
            continue
        assert decision.state == state and not decision.effects, name


@PROPERTY
@given(action=st.sampled_from(SENT), flags=flag_sets, zone=zones, now=instants)
def test_the_machine_and_the_last_check_give_the_same_verdict(
    action: str, flags: dict[str, bool], zone: str | None, now: datetime
) -> None:
    strict = calendar.QuietHours(time(20, 30), time(9, 15))
    definition = Definition.model_validate(
        {
            "name": "One",
            "senders": SENDERS,
            "schedule": {"days": "every_day", "holidays": "none",
                         "fallback_timezone": "America/Los_Angeles"},
            "exit": {"on": ["replied"]},
            "steps": [{"key": "only", "action": action, **STEP_BODIES[action]}],
        }
    )  # fmt: skip
    contact = _contact(flags, zone)
    state = EnrollmentState("active", "only", now, now)
    decision = machine.advance(Situation(definition, contact, now, quiet=strict), state)
    recipient = calendar.recipient_zone(definition.schedule, zone).key
    check = reach.SendCheck(action, recipient, "20:30", "09:15")
    verdict = check_again(check, contact, now)
    [entry] = [h for h in decision.history if h.type in ("step_executed", "skipped", "deferred")]
    if entry.type == "step_executed":
        assert any(isinstance(e, Send) for e in decision.effects)
        assert verdict.kind == "send", verdict
    elif entry.type == "skipped":
        assert (verdict.kind, verdict.reason) == ("suppress", entry.reason)
    else:
        assert verdict.kind == "defer" and verdict.until == decision.state.due_at
        # Sent at that instant instead, it goes.
        assert check_again(check, contact, verdict.until).kind == "send"


@PROPERTY
@given(
    days=st.lists(st.integers(min_value=1, max_value=15), min_size=2, max_size=5, unique=True),
    at=st.integers(min_value=0, max_value=23),
    enrolled=instants,
    zone=zones,
    policy=st.sampled_from(["every_day", "business", ["mon", "wed", "fri"]]),
)
def test_day_n_steps_come_due_in_their_order(
    days: list[int], at: int, enrolled: datetime, zone: str | None, policy: object
) -> None:
    schedule = Definition.model_validate(
        {"name": "D", "schedule": {"days": policy, "holidays": "us-sales",
                                   "hours": {"open": "08:00", "close": "18:00"}},
         "steps": [{"key": "x", "action": "add_tag", "tag": "x"}]}
    ).schedule  # fmt: skip
    due = []
    for day in sorted(days):
        wait = {"day": day, "at": f"{at:02d}:30"}
        step = Definition.model_validate(
            {"name": "D", "steps": [{"key": "x", "action": "email", "wait": wait,
                                     "subject": "s", "body": "b"}]}
        ).steps[0]  # fmt: skip
        instant, _ = calendar.due(
            step.wait,
            previous=enrolled,
            enrolled_at=enrolled,
            policy=schedule,
            channel="email",
            contact_tz=zone,
        )
        due.append(instant)
    assert due == sorted(due), due
