"""The dry-run timeline: the transition function walked through time for one contact."""

from __future__ import annotations

from cadenza.clock import parse_instant
from cadenza.core.contact import ContactView
from cadenza.core.events import EventRecord
from cadenza.core.lint import lint_text
from cadenza.core.simulation import Timeline, simulate

LEAD = """
name: Lead
senders: {email: sales@example.com, sms: "+13125550100"}
schedule: {timezone: contact, days: business, hours: {open: "09:00", close: "17:00"}}
exit: {on: [replied]}
steps:
  - {key: intro_sms, action: sms, body: "Hi {{ contact.first_name }}"}
  - key: first_call
    action: call
    wait: {days: 1, at: "10:00"}
    assignee: contact_owner
  - {key: follow_up, action: email, wait: {business_days: 2}, subject: "Hi", body: "<p>x</p>"}
"""
ANA = ContactView(
    first_name="Ana", email="ana@example.com", phone="+13105550100", timezone="America/Los_Angeles"
)


def _run(text: str = LEAD, **kwargs: object) -> Timeline:
    definition, problems = lint_text(text, "lead.yaml")
    assert definition is not None and not problems
    kwargs.setdefault("start", parse_instant("2026-12-04T18:00:00-08:00"))  # Friday 18:00
    return simulate(definition, ANA, **kwargs)  # type: ignore[arg-type]


def _executed(timeline: Timeline) -> list[tuple[str | None, str]]:
    return [
        (r.step, r.local_time[:16])
        for r in timeline.rows
        if r.kind in ("step_executed", "task_created")
    ]


def test_a_friday_evening_lead_is_texted_monday_morning_local_time_with_the_reason() -> None:
    timeline = _run()
    assert _executed(timeline) == [
        ("intro_sms", "2026-12-07T09:00"),
        ("first_call", "2026-12-08T10:00"),
        ("follow_up", "2026-12-10T10:00"),
    ]
    intro = next(r for r in timeline.rows if r.step == "intro_sms")
    assert intro.time.isoformat() == "2026-12-07T17:00:00+00:00"
    assert any("Monday 09:00" in reason for reason in intro.reasons)
    assert timeline.ending == "completed"


def test_a_reply_exits_and_nothing_later_is_shown() -> None:
    timeline = _run(events=[EventRecord("replied", parse_instant("2026-12-07T12:00:00-08:00"))])
    assert [step for step, _ in _executed(timeline)] == ["intro_sms"]
    assert timeline.ending.startswith("exited: replied")
    assert timeline.rows[-1].kind == "exited"


def test_an_interested_call_ends_positive() -> None:
    timeline = _run(outcomes={"first_call": "interested"})
    assert [step for step, _ in _executed(timeline)] == ["intro_sms", "first_call"]
    assert timeline.ending == "ended positive"


def test_a_contact_without_a_phone_blocks_on_an_error_task() -> None:
    definition, _ = lint_text(LEAD, "lead.yaml")
    assert definition is not None
    timeline = simulate(
        definition,
        ANA.model_copy(update={"phone": None}),
        start=parse_instant("2026-12-07T10:00:00-08:00"),
    )
    assert timeline.rows[-1].kind == "step_error"
    assert "no phone" in timeline.rows[-1].detail
    assert timeline.ending.startswith("blocked at intro_sms")


def test_until_stops_the_timeline_and_says_what_comes_next() -> None:
    timeline = _run(until=parse_instant("2026-12-07T12:00:00-08:00"))
    assert _executed(timeline) == [("intro_sms", "2026-12-07T09:00")]
    assert "next: first_call" in timeline.ending


def test_a_window_that_always_falls_in_quiet_hours_ends_instead_of_texting_at_night() -> None:
    text = LEAD.replace("timezone: contact,", "timezone: Asia/Kolkata,").replace(
        '"09:00", close: "17:00"', '"10:30", close: "12:00"'
    )
    timeline = _run(text)  # Kolkata mornings are Los Angeles nights: no text may ever go
    assert _executed(timeline) == []
    assert timeline.rows[-1].kind == "exited"
    assert "no allowed time" in timeline.ending


def test_a_template_that_fails_for_this_contact_is_an_error_task_in_the_dry_run_too() -> None:
    # The body reads a custom field Ana does not have: production makes it an error task.
    text = LEAD.replace('body: "<p>x</p>"', 'body: "<p>{{ contact.fields.budget }}</p>"')
    timeline = _run(text, outcomes={"first_call": "no_answer"})
    [error] = [r for r in timeline.rows if r.kind == "step_error"]
    assert error.step == "follow_up"
    assert "undefined variable contact.fields.budget" in error.detail
    assert timeline.ending == "blocked at follow_up: a task in error needs a person"
