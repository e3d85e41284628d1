"""The seed scenarios end to end through the worker, with a fixed clock, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from cadenza.services import enrollments, outbox, tasks
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.services.tasks import list_tasks
from cadenza.store.models import Contact
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

INBOUND = """
name: Inbound lead
senders: {email: sales@example.com, sms: "+13125550100"}
schedule: {timezone: contact, days: business, hours: {open: "09:00", close: "17:00"}}
steps:
  - {key: intro_sms, action: sms, body: "Hi {{ contact.first_name }}, thanks for reaching out!"}
  - key: first_call
    action: call
    wait: {days: 1, at: "10:00"}
    assignee: contact_owner
  - {key: follow_up, action: email, wait: {business_days: 2}, subject: "Following up",
     body: "<p>Hi {{ contact.first_name }}</p>"}
"""


def _enroll(db: Database, text: str, now: str, **contact: object) -> int:
    with write(db) as session:
        store(session, text, at(now))
        contact_id = add_contact(session, at(now), **contact)
        name = text.split("name:", 1)[1].splitlines()[0].strip()
        report = enrollments.enroll(
            session=session, sequence=name, contact_ids=[contact_id], now=at(now), settings=SETTINGS
        )
        assert report.enrolled == [contact_id], report.refused
    return contact_id


def _messages(db: Database) -> list[dict[str, object]]:
    with db.sessions() as session:
        return outbox.list_messages(session=session)


def _enrollment(db: Database) -> dict[str, object]:
    with db.sessions() as session:
        (row,) = enrollments.list_enrollments(session=session)
        return row


def _complete_open_task(db: Database, outcome: str, now: str) -> None:
    with db.sessions() as session:
        (task,) = list_tasks(session=session, status="open")
    with write(db) as session:
        tasks.complete_task(
            session=session,
            task_id=int(task["id"]),
            outcome=outcome,
            now=at(now),
            settings=SETTINGS,
        )


def test_inbound_lead_sms_now_call_tomorrow_email_later_then_nothing_after_reply(
    db: Database,
) -> None:
    # Tuesday 2026-12-01 11:00 in Chicago.
    contact_id = _enroll(db, INBOUND, "2026-12-01T11:00:00-06:00")
    run_worker(db, "2026-12-01T11:00:00-06:00")
    (sms,) = _messages(db)
    assert sms["channel"] == "sms" and sms["body"].startswith("Hi Jane, thanks")
    assert "STOP" in str(sms["body"])
    assert _enrollment(db)["due_at"] == at("2026-12-02T10:00:00-06:00").isoformat()

    run_worker(db, "2026-12-02T10:00:00-06:00")
    with db.sessions() as session:
        (task,) = list_tasks(session=session, status="open")
    assert task["kind"] == "call" and task["step"] == "first_call"
    assert _enrollment(db)["status"] == "waiting"

    _complete_open_task(db, "no_answer", "2026-12-02T10:05:00-06:00")
    # Two business days after Wednesday 10:05 is Friday 10:05.
    assert _enrollment(db)["due_at"] == at("2026-12-04T10:05:00-06:00").isoformat()

    with write(db) as session:
        record_event(
            session=session,
            contact_id=contact_id,
            name="replied",
            data={},
            now=at("2026-12-03T09:00:00-06:00"),
            settings=SETTINGS,
        )
    run_worker(db, "2026-12-10T12:00:00-06:00")
    assert [m["channel"] for m in _messages(db)] == ["sms"]
    row = _enrollment(db)
    assert row["status"] == "exited" and "replied" in str(row["exit_reason"])


def test_call_marked_interested_ends_positive_and_no_later_step_runs(db: Database) -> None:
    _enroll(db, INBOUND, "2026-12-01T11:00:00-06:00")
    run_worker(db, "2026-12-01T11:00:00-06:00")
    run_worker(db, "2026-12-02T10:00:00-06:00")
    _complete_open_task(db, "interested", "2026-12-02T10:30:00-06:00")
    row = _enrollment(db)
    assert (row["status"], row["outcome"]) == ("completed", "positive")
    run_worker(db, "2026-12-20T12:00:00-06:00")
    assert [m["step"] for m in _messages(db)] == ["intro_sms"]


CLASSIC = """
name: Classic
senders: {email: sales@example.com}
schedule: {timezone: America/New_York, days: business, hours: {open: "08:00", close: "18:00"}}
steps:
  - {key: day1, action: email, wait: {day: 1, at: "09:00"}, subject: "Hello", body: "<p>1</p>"}
  - {key: day3_vip, action: email, wait: {day: 3, at: "09:00"}, subject: "VIP", body: "<p>2</p>",
     when: {tag: vip}}
  - {key: day5, action: email, wait: {day: 5, at: "09:30"}, subject: "Again", body: "<p>3</p>"}
"""


def test_classic_sequence_skips_a_false_condition_and_runs_the_next_on_its_day(
    db: Database,
) -> None:
    _enroll(db, CLASSIC, "2026-12-07T07:00:00-05:00")  # Monday
    run_worker(db, "2026-12-07T09:00:00-05:00")
    run_worker(db, "2026-12-09T09:00:00-05:00")
    row = _enrollment(db)
    assert row["step"] == "day5"
    assert row["due_at"] == at("2026-12-11T09:30:00-05:00").isoformat()
    run_worker(db, "2026-12-11T09:30:00-05:00")
    assert [m["step"] for m in _messages(db)] == ["day1", "day5"]
    with db.sessions() as session:
        skipped = list_history(session=session, types=["skipped"])
    assert skipped[0]["step"] == "day3_vip" and "vip" in skipped[0]["reason"]


BLOCKING = """
name: Blocking
senders: {email: sales@example.com}
schedule: {days: every_day}
steps:
  - {key: remind, action: task, reminder: true, assignee: contact_owner, title: "Look them up"}
  - {key: draft, action: manual_email, assignee: contact_owner, subject: "Hi", body: "Hello"}
  - {key: after, action: email, wait: {hours: 1}, subject: "Next", body: "<p>next</p>"}
"""


def test_manual_email_blocks_until_sent_while_a_reminder_task_does_not(db: Database) -> None:
    _enroll(db, BLOCKING, "2026-12-01T15:00:00Z")
    run_worker(db, "2026-12-01T15:00:00Z")
    with db.sessions() as session:
        kinds = {t["kind"]: t for t in list_tasks(session=session, status="open")}
    assert set(kinds) == {"task", "manual_email"}  # the reminder did not hold the draft back
    assert kinds["manual_email"]["subject"] == "Hi"
    run_worker(db, "2026-12-03T15:00:00Z")
    assert _messages(db) == [] and _enrollment(db)["status"] == "waiting"
    with write(db) as session:
        tasks.complete_task(
            session=session,
            task_id=int(kinds["manual_email"]["id"]),
            outcome="none",
            now=at("2026-12-03T16:00:00Z"),
            settings=SETTINGS,
        )
    run_worker(db, "2026-12-03T17:00:00Z")
    assert [m["step"] for m in _messages(db)] == ["after"]


def test_contact_without_email_gets_an_error_task_and_continues_after_fix_and_retry(
    db: Database,
) -> None:
    contact_id = _enroll(db, CLASSIC, "2026-12-07T07:00:00-05:00", email=None)
    run_worker(db, "2026-12-07T09:00:00-05:00")
    with db.sessions() as session:
        (task,) = list_tasks(session=session, status="error")
    assert task["step"] == "day1" and "no email" in str(task["error"])
    assert _messages(db) == []
    with write(db) as session:
        session.execute(
            select(Contact).where(Contact.id == contact_id)
        ).scalar_one().email = "jane@example.com"
        enrollment_id = int(_enrollment(db)["id"])
        enrollments.retry_step(
            session=session,
            enrollment_id=enrollment_id,
            now=at("2026-12-07T10:00:00-05:00"),
            settings=SETTINGS,
        )
    run_worker(db, "2026-12-07T10:00:00-05:00")
    assert [m["step"] for m in _messages(db)] == ["day1"]
    assert _enrollment(db)["step"] == "day3_vip"


def test_task_titles_and_instructions_are_rendered_for_the_contact(db: Database) -> None:
    text = BLOCKING.replace(
        'title: "Look them up"',
        'title: "Look up {{ contact.full_name }}", instructions: "Check [Company]"',
    )
    contact_id = _enroll(db, text, "2026-12-01T15:00:00Z", company="Acme")
    run_worker(db, "2026-12-01T15:00:00Z")
    with db.sessions() as session:
        (reminder,) = [t for t in list_tasks(session=session) if t["kind"] == "task"]
    assert reminder["title"] == "Look up Jane Doe" and reminder["body"] == "Check Acme"
    assert reminder["contact_id"] == contact_id
