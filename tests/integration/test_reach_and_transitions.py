"""One rule for reach and transitions, seen from the outside, on both backends.

Each test is a defect that production once had: the send-time check in another zone than
the decision, voicemail to a contact who texted STOP, a schedule `end` that fired every
remaining step at once, an owner set in a pass that later steps did not see, a trigger depth
lost after an event, a STOP that ended email-only sequences.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cadenza.clock import FixedClock
from cadenza.core.contact import ContactView
from cadenza.core.lint import lint_text
from cadenza.core.simulation import simulate
from cadenza.engine.dispatcher import Dispatcher
from cadenza.services import enrollments, outbox
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.services.tasks import list_tasks
from cadenza.settings import Settings
from cadenza.store.models import Enrollment, Group, GroupMember, Message, User
from tests.conftest import Database
from tests.engine_helpers import add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as running:
        yield running


@pytest.fixture
def settings(catcher: Catcher, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        smtp_port=catcher.port,
        sms_sink_path=str(tmp_path / "sink.jsonl"),
        secret_key="s3cret",
        fallback_timezone="America/New_York",  # not the sequence's: the sequence's must win
    )


def _start(db: Database, text: str, now: str, settings: Settings, **contact: object) -> int:
    with write(db) as session:
        definition = store(session, text, at(now))
        contact_id = add_contact(session, at(now), **contact)
        report = enrollments.enroll(
            session=session,
            sequence=definition.name,
            contact_ids=[contact_id],
            now=at(now),
            settings=settings,
        )
        assert report.enrolled == [contact_id], report.refused
    return contact_id


def _run(db: Database, settings: Settings, now: str) -> None:
    run_worker(db, now)
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()


def _messages(db: Database) -> list[dict[str, object]]:
    with db.sessions() as session:
        return outbox.list_messages(session=session)


def _history(db: Database, *types: str) -> list[dict[str, object]]:
    with db.sessions() as session:
        return list_history(session=session, types=list(types))


def _enrollment(db: Database) -> dict[str, object]:
    with db.sessions() as session:
        (row,) = enrollments.list_enrollments(session=session)
        return row


TEXT_IN_LA = """
name: West coast text
senders: {sms: "+13125550100"}
schedule: {timezone: contact, fallback_timezone: America/Los_Angeles, days: every_day,
           holidays: none}
steps:
  - {key: hello, action: sms, body: "Hi {{ contact.first_name }}"}
"""


def test_a_text_decided_in_the_sequences_fallback_zone_is_checked_in_that_zone(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # 20:30 in Los Angeles (the sequence's fallback) is 23:30 in New York (the settings').
    now = "2026-12-01T20:30:00-08:00"
    _start(db, TEXT_IN_LA, now, settings, timezone=None)
    _run(db, settings, now)
    [message] = _messages(db)
    assert message["status"] == "sent"  # not deferred to 08:00 New York = 05:00 here
    assert json.loads((tmp_path / "sink.jsonl").read_text())["to"] == "+13125550101"


def test_a_text_decided_before_nine_but_sent_after_waits_for_the_morning_there(
    db: Database, settings: Settings
) -> None:
    _start(db, TEXT_IN_LA, "2026-12-01T20:58:00-08:00", settings, timezone=None)
    run_worker(db, "2026-12-01T20:58:00-08:00")
    dispatcher = Dispatcher(db.sessions, FixedClock(at("2026-12-01T21:05:00-08:00")), settings)
    try:
        assert dispatcher.drain() == 0
    finally:
        dispatcher.close()
    [message] = _messages(db)
    assert message["status"] == "queued"
    [deferred] = _history(db, "message_deferred")
    assert deferred["reason"] == "quiet hours: 21:05 local → Wednesday 08:00"
    with db.sessions() as session:
        attempt_at = session.scalar(select(Message.next_attempt_at))
    assert attempt_at == at("2026-12-02T08:00:00-08:00")  # 08:00 in Los Angeles


VOICEMAIL = """
name: Drop
senders: {sms: "+13125550100", email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: drop, action: voicemail, audio: "https://acme.example/hello.mp3"}
  - {key: mail, action: email, wait: {hours: 1}, subject: "Hello", body: "<p>Hi</p>"}
"""


def test_voicemail_to_a_contact_who_texted_stop_is_skipped_everywhere_alike(
    db: Database, settings: Settings
) -> None:
    now = "2026-12-01T15:00:00Z"
    contact_id = _start(db, VOICEMAIL, now, settings)
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="sms_opted_out",
            data={},
            now=at(now),
            settings=settings,
        )
    _run(db, settings, now)
    reason = "contact opted out of texts and automated calls (STOP)"
    skipped = _history(db, "skipped")
    assert [(h["step"], h["reason"]) for h in skipped] == [("drop", reason)]
    assert not _history(db, "step_executed") and _messages(db) == []
    # The dry run says the same, for the same reason.
    definition, _ = lint_text(VOICEMAIL, "drop.yaml")
    assert definition is not None
    timeline = simulate(
        definition,
        ContactView(phone="+13125550101", email="j@x.example", sms_opted_out=True),
        start=at(now),
    )
    [row] = [r for r in timeline.rows if r.step == "drop"]
    assert (row.kind, row.detail) == ("skipped", reason)


def test_a_voicemail_queued_before_a_stop_is_suppressed_with_the_same_reason(
    db: Database, settings: Settings
) -> None:
    now = "2026-12-01T15:00:00Z"
    contact_id = _start(db, VOICEMAIL, now, settings)
    run_worker(db, now)  # decided and queued, not yet sent
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="sms_opted_out",
            data={},
            now=at(now),
            settings=settings,
        )
    _run(db, settings, now)
    [message] = _messages(db)
    assert message["status"] == "suppressed"
    assert message["error"] == "contact opted out of texts and automated calls (STOP)"


CADENCE_WITH_END = """
name: Ends soon
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none, end: 2026-12-03T00:00:00Z}
steps:
  - {key: one, action: email, subject: "One", body: "<p>1</p>"}
  - {key: two, action: email, wait: {days: 3}, subject: "Two", body: "<p>2</p>"}
  - {key: three, action: email, wait: {days: 3}, subject: "Three", body: "<p>3</p>"}
"""


def test_a_step_due_after_the_schedules_end_never_runs_and_the_enrollment_exits(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    _start(db, CADENCE_WITH_END, "2026-12-01T10:00:00Z", settings)
    _run(db, settings, "2026-12-01T10:00:00Z")
    _run(db, settings, "2026-12-05T10:00:00Z")  # after the end: no burst of the waits ignored
    assert [m["step"] for m in _messages(db)] == ["one"]
    assert len(catcher.messages) == 1
    enrollment = _enrollment(db)
    assert enrollment["status"] == "exited"
    assert enrollment["exit_reason"] == ("two: after the sequence's end 2026-12-03 00:00 UTC")


HANDOVER = """
name: Handover
senders: {email: "team@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: assign, action: set_owner, owner: "round_robin:closers"}
  - {key: ring, action: call, assignee: contact_owner, title: "Call for {{ user.name }}"}
"""
TELL_OWNER = """
name: Tell owner
senders: {email: "team@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: assign, action: set_owner, owner: "user:cara@acme.example"}
  - {key: note, action: email, subject: "[OwnerName] will call you",
     body: "<p>{{ user.first_name }} ({{ user.email }}) here.</p>"}
"""


def _people(db: Database, now: str) -> None:
    with write(db) as session:
        people = [
            User(email=f"{name}@acme.example", name=f"{name.title()} Doe", created_at=at(now))
            for name in ("ana", "bo", "cara")
        ]
        session.add_all(people)
        group = Group(name="closers")
        session.add(group)
        session.flush()
        session.add_all(
            [
                GroupMember(group_id=group.id, user_id=u.id, position=i)
                for i, u in enumerate(people[1:])
            ]
        )


def test_a_call_after_set_owner_in_the_same_pass_goes_to_the_new_owner(
    db: Database, settings: Settings
) -> None:
    now = "2026-12-01T16:00:00Z"  # 10:00 in Chicago: outside the quiet hours of a call
    _people(db, now)
    _start(db, HANDOVER, now, settings)
    run_worker(db, now)  # set_owner and the call run in one pass
    with db.sessions() as session:
        [task] = list_tasks(session=session)
    assert task["assignee"] == "bo@acme.example"  # the round robin's pick, not unassigned
    assert task["title"] == "Call for Bo Doe"


def test_a_message_after_set_owner_in_the_same_pass_speaks_as_the_new_owner(
    db: Database, settings: Settings
) -> None:
    now = "2026-12-01T10:00:00Z"
    _people(db, now)
    with write(db) as session:
        ana = session.scalar(select(User.id).where(User.email == "ana@acme.example"))
    _start(db, TELL_OWNER, now, settings, owner_id=ana)
    run_worker(db, now)
    [message] = _messages(db)
    assert message["subject"] == "Cara Doe will call you"
    assert message["body"] == "<p>Cara (cara@acme.example) here.</p>"


CHAIN = """
name: Chain {n}
schedule: {{timezone: UTC, days: every_day, holidays: none}}
enrollment:
  triggers: [{{on: tag_added, tag: "{tag}"}}]
steps:
  - {{key: mark, action: add_tag, tag: "{next}"}}
  - {{key: listen, action: wait_for, events: [replied], timeout: {{days: 7}}}}
"""


def test_the_trigger_depth_survives_an_event(db: Database, settings: Settings) -> None:
    now = "2026-12-01T10:00:00Z"
    with write(db) as session:
        store(session, CHAIN.format(n=1, tag="go", next="step2"), at(now))
        store(session, CHAIN.format(n=2, tag="step2", next="step3"), at(now))
        contact_id = add_contact(session, at(now))
        record_event(
            session=session,
            contact_id=contact_id,
            name="tag_added",
            data={"tag": "go"},
            now=at(now),
            settings=settings,
        )
    run_worker(db, now)
    run_worker(db, now)
    with write(db) as session:  # an event reaches both enrollments while they wait
        record_event(
            session=session,
            contact_id=contact_id,
            name="out_of_office",
            data={},
            now=at(now),
            settings=settings,
        )
    with db.sessions() as session:
        depths = dict(session.execute(select(Enrollment.id, Enrollment.state)).all())
    assert sorted(state.get("depth", 0) for state in depths.values()) == [1, 2]


EMAIL_ONLY = """
name: Newsletter
senders: {email: "news@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: one, action: email, wait: {days: 1}, subject: "One", body: "<p>1</p>"}
"""
MIXED = """
name: Mixed
senders: {email: "news@acme.example", sms: "+13125550100"}
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: text, action: sms, wait: {days: 1}, body: "Hi"}
  - {key: mail, action: email, subject: "Hello", body: "<p>Hi</p>"}
"""


def test_a_stop_does_not_end_an_email_only_sequence(db: Database, settings: Settings) -> None:
    contact_id = _start(db, EMAIL_ONLY, "2026-12-01T10:00:00Z", settings)
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="sms_opted_out",
            data={},
            now=at("2026-12-01T11:00:00Z"),
            settings=settings,
        )
    _run(db, settings, "2026-12-02T10:00:00Z")
    assert [(m["step"], m["status"]) for m in _messages(db)] == [("one", "sent")]
    assert _enrollment(db)["status"] == "completed"


def test_a_stop_skips_the_texts_and_the_emails_go_on_when_exit_on_does_not_name_it(
    db: Database, settings: Settings
) -> None:
    contact_id = _start(db, MIXED, "2026-12-01T10:00:00Z", settings)
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="sms_opted_out",
            data={},
            now=at("2026-12-01T11:00:00Z"),
            settings=settings,
        )
    _run(db, settings, "2026-12-02T15:00:00Z")  # the text's time: 09:00 in Chicago
    assert [(m["step"], m["status"]) for m in _messages(db)] == [("mail", "sent")]
    assert [h["step"] for h in _history(db, "skipped")] == ["text"]


def test_a_stop_ends_a_sequence_that_texts_by_default(db: Database, settings: Settings) -> None:
    contact_id = _start(
        db, MIXED.replace("exit: {on: [replied]}\n", ""), "2026-12-01T10:00:00Z", settings
    )
    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="sms_opted_out",
            data={},
            now=at("2026-12-01T11:00:00Z"),
            settings=settings,
        )
    enrollment = _enrollment(db)
    assert enrollment["status"] == "exited"
    assert str(enrollment["exit_reason"]).startswith("sms_opted_out at")


POISON = """
name: Poison
senders: {email: "sales@acme.example"}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hi",
     body: "<p>{{ 'x' * (contact.fields.repeat | int) }}</p>"}
"""


def test_a_template_over_its_limits_is_that_enrollments_error_and_the_batch_goes_on(
    db: Database, settings: Settings, catcher: Catcher
) -> None:
    now = "2026-12-01T15:00:00Z"
    with write(db) as session:
        store(session, POISON, at(now))
        benign = add_contact(session, at(now), email="ok@x.example", fields={"repeat": 3})
        poisoned = add_contact(session, at(now), email="bad@x.example", fields={"repeat": 10**10})
        enrollments.enroll(
            session=session, sequence="Poison", contact_ids=[poisoned, benign], now=at(now),
            settings=settings,
        )  # fmt: skip
    _run(db, settings, now)
    assert [(m["contact_id"], m["status"]) for m in _messages(db)] == [(benign, "sent")]
    assert len(catcher.messages) == 1
    with db.sessions() as session:
        [task] = list_tasks(session=session, status="error")
    assert task["contact_id"] == poisoned
    assert "larger than" in str(task["error"])
