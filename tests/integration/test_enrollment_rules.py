"""Who may be enrolled, when steps are held back, and what events and triggers do."""

from __future__ import annotations

from sqlalchemy import select

from cadenza.services import enrollments, outbox
from cadenza.services.events import record_event
from cadenza.services.history import list_history
from cadenza.store.models import Contact, DialerEntry, Group, GroupMember, Sender, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write


def _enroll(db: Database, sequence: str, ids: list[int], now: str) -> enrollments.EnrollReport:
    with write(db) as session:
        return enrollments.enroll(
            session=session, sequence=sequence, contact_ids=ids, now=at(now), settings=SETTINGS
        )


def _rows(db: Database, **filters: object) -> list[dict[str, object]]:
    with db.sessions() as session:
        return enrollments.list_enrollments(session=session, **filters)  # type: ignore[arg-type]


POLICY = """
name: Policy
senders: {email: a@acme.example, sms: "+13125550100"}
schedule: {timezone: America/New_York, days: every_day, holidays: none,
           begin: "2026-12-10T09:00:00-05:00"}
enrollment:
  reentry: after_exit
  only_enroll_between: {open: "08:00", close: "20:00"}
  skip_if_communicating: 60
steps:
  - {key: hello, action: sms, body: "Hello"}
"""


def test_enrollment_refusals_carry_their_reasons(db: Database) -> None:
    now = "2026-12-01T12:00:00-05:00"
    with write(db) as session:
        store(session, POLICY, at(now))
        ok = add_contact(
            session,
            at(now),
            email="ok@x.example",
            phone="+13125550101",
            timezone="America/New_York",
        )
        dnc = add_contact(session, at(now), email="dnc@x.example", phone="+13125550102", dnc=True)
        stopped = add_contact(
            session, at(now), email="stop@x.example", phone="+13125550103", sms_opted_out=True
        )
        talking = add_contact(
            session,
            at(now),
            email="talk@x.example",
            phone="+13125550104",
            last_inbound_at=at("2026-12-01T11:30:00-05:00"),
        )
        night = add_contact(
            session, at(now), email="tokyo@x.example", phone="+13125550105", timezone="Asia/Tokyo"
        )  # 02:00 there
    report = _enroll(db, "Policy", [ok, dnc, stopped, talking, night], now)
    refused = dict(report.refused)
    assert report.enrolled == [ok]
    assert refused[dnc] == "contact is do-not-contact"
    assert "opted out of SMS" in refused[stopped]
    assert "last 60 minutes" in refused[talking]
    assert "outside enrollment hours" in refused[night]
    again = _enroll(db, "Policy", [ok], now)
    assert again.refused == [(ok, "already in this sequence")]
    with db.sessions() as session:
        assert len(list_history(session=session, types=["enroll_refused"])) == 5


def test_a_sequence_that_begins_later_holds_its_enrollments_until_then(db: Database) -> None:
    now = "2026-12-01T12:00:00-05:00"
    with write(db) as session:
        store(session, POLICY, at(now))
        contact = add_contact(session, at(now), timezone="America/New_York")
    _enroll(db, "Policy", [contact], now)
    (row,) = _rows(db)
    assert row["due_at"] == at("2026-12-10T09:00:00-05:00").isoformat()
    assert run_worker(db, "2026-12-09T12:00:00-05:00") == 0


THROTTLED = """
name: Throttled
senders: {email: capped@acme.example}
schedule: {timezone: UTC, days: every_day, holidays: none}
limits: {throttle_per_minute: 3}
steps:
  - {key: hello, action: email, subject: "Hi", body: "<p>Hi</p>"}
"""


def test_a_throttle_holds_the_rest_for_the_next_minute_with_a_reason(db: Database) -> None:
    now = "2026-12-01T12:00:00Z"
    with write(db) as session:
        store(session, THROTTLED, at(now))
        ids = [
            add_contact(session, at(now), email=f"c{i}@x.example", timezone="UTC") for i in range(7)
        ]
    _enroll(db, "Throttled", ids, now)
    run_worker(db, now)
    assert len(_rows(db, status="completed")) == 3
    held = _rows(db, status="active")
    assert {r["due_at"] for r in held} == {at("2026-12-01T12:01:00Z").isoformat()}
    with db.sessions() as session:
        (reason,) = {h["reason"] for h in list_history(session=session, types=["deferred"])}
    assert reason == "throttled: 3 steps/minute"
    run_worker(db, "2026-12-01T12:01:00Z")
    run_worker(db, "2026-12-01T12:02:00Z")
    assert len(_rows(db, status="completed")) == 7


def test_a_sender_hourly_cap_defers_instead_of_dropping(db: Database) -> None:
    now = "2026-12-01T12:10:00Z"
    with write(db) as session:
        store(session, THROTTLED.replace("limits: {throttle_per_minute: 3}\n", ""), at(now))
        session.add(Sender(kind="email", address="capped@acme.example", per_hour=2))
        ids = [
            add_contact(session, at(now), email=f"c{i}@x.example", timezone="UTC") for i in range(3)
        ]
    _enroll(db, "Throttled", ids, now)
    run_worker(db, now)
    (held,) = _rows(db, status="active")
    assert held["due_at"] == at("2026-12-01T13:00:00Z").isoformat()
    with db.sessions() as session:
        (deferred,) = list_history(session=session, types=["deferred"])
    assert deferred["reason"] == "held: sender capped@acme.example at 2/hour"


TRIGGERED = """
name: Webinar
senders: {email: a@acme.example}
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment:
  triggers:
    - {on: tag_added, tag: webinar}
    - {on: disposition_changed, to: bad_timing, action: exit}
    - {on: call_logged, min_duration: 60}
steps:
  - {key: wait_a_day, action: email, wait: {days: 1}, subject: "Thanks", body: "<p>x</p>"}
"""


def test_triggers_enroll_on_a_tag_and_exit_on_a_disposition(db: Database) -> None:
    now = "2026-12-01T12:00:00Z"
    with write(db) as session:
        store(session, TRIGGERED, at(now))
        contact = add_contact(session, at(now))
        other = add_contact(session, at(now), email="o@x.example")
        record_event(
            session=session,
            contact_id=contact,
            name="tag_added",
            data={"tag": "webinar"},
            now=at(now),
            settings=SETTINGS,
        )
        record_event(
            session=session,
            contact_id=other,
            name="call_logged",
            data={"duration": 30},
            now=at(now),
            settings=SETTINGS,
        )
    assert [r["contact_id"] for r in _rows(db, status="active")] == [contact]
    with write(db) as session:
        record_event(
            session=session,
            contact_id=other,
            name="call_logged",
            data={"duration": 95, "disposition": "talked"},
            now=at(now),
            settings=SETTINGS,
        )
        record_event(
            session=session,
            contact_id=contact,
            name="disposition_changed",
            data={"to": "bad_timing"},
            now=at("2026-12-01T13:00:00Z"),
            settings=SETTINGS,
        )
    statuses = {r["contact_id"]: (r["status"], r["exit_reason"]) for r in _rows(db)}
    assert statuses[contact] == ("exited", "trigger: disposition_changed")
    assert statuses[other][0] == "active"
    with db.sessions() as session:
        assert session.get(Contact, contact).disposition == "bad_timing"  # type: ignore[union-attr]


LOOP_A = """
name: Loop A
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment: {reentry: always, triggers: [{on: tag_added, tag: a}]}
steps:
  - {key: tag_b, action: add_tag, tag: b}
  - {key: untag, action: remove_tag, tag: a}
"""
LOOP_B = """
name: Loop B
schedule: {timezone: UTC, days: every_day, holidays: none}
enrollment: {reentry: always, triggers: [{on: tag_added, tag: b}]}
steps:
  - {key: untag_b, action: remove_tag, tag: b}
  - {key: tag_a, action: add_tag, tag: a}
"""


def test_two_sequences_handing_a_contact_back_and_forth_stop_at_the_depth_guard(
    db: Database,
) -> None:
    now = "2026-12-01T12:00:00Z"
    with write(db) as session:
        store(session, LOOP_A, at(now))
        store(session, LOOP_B, at(now))
        contact = add_contact(session, at(now))
        record_event(
            session=session,
            contact_id=contact,
            name="tag_added",
            data={"tag": "a"},
            now=at(now),
            settings=SETTINGS,
        )
    for _ in range(12):
        run_worker(db, now)
    assert len(_rows(db)) <= 8
    with db.sessions() as session:
        skipped = list_history(session=session, types=["trigger_skipped"])
    assert skipped and "loop" in str(skipped[0]["reason"])


CHANGES = """
name: Changes
senders: {email: a@acme.example}
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: owner, action: set_owner, owner: "round_robin:closers"}
  - {key: dispo, action: set_disposition, disposition: contacted}
  - {key: field, action: set_field, field: budget, value: 5000}
  - {key: dial, action: add_to_dialer, list: hot}
  - {key: hook, action: webhook, url: "https://hooks.acme.example/cadenza"}
  - {key: tell, action: notify, to: owner, subject: "{{ contact.first_name }} is hot"}
  - {key: dnc, action: mark_dnc}
  - {key: never, action: email, subject: "x", body: "<p>x</p>"}
"""


def test_contact_changes_apply_in_the_transaction_and_dnc_ends_it(db: Database) -> None:
    now = "2026-12-01T12:00:00Z"
    with write(db) as session:
        users = [
            User(email=f"u{i}@acme.example", name=f"U{i}", created_at=at(now)) for i in range(2)
        ]
        session.add_all(users)
        group = Group(name="closers")
        session.add(group)
        session.flush()
        session.add_all(
            [GroupMember(group_id=group.id, user_id=u.id, position=i) for i, u in enumerate(users)]
        )
        session.flush()
        store(session, CHANGES, at(now))
        first = add_contact(session, at(now))
        second = add_contact(session, at(now), email="b@x.example")
    _enroll(db, "Changes", [first, second], now)
    run_worker(db, now)
    with db.sessions() as session:
        owners = [session.get(Contact, c).owner_id for c in (first, second)]  # type: ignore[union-attr]
        contact = session.get(Contact, first)
        assert contact is not None
        assert (contact.disposition, contact.fields, contact.dnc) == (
            "contacted",
            {"budget": 5000},
            True,
        )
        dialer = session.scalars(select(DialerEntry.contact_id)).all()
        messages = outbox.list_messages(session=session)
    assert len(set(owners)) == 2  # round robin gave each contact a different closer
    assert sorted(dialer) == sorted([first, second])
    assert sorted(m["channel"] for m in messages) == ["email", "email", "webhook", "webhook"]
    assert {m["to"] for m in messages if m["channel"] == "email"} == {
        "u0@acme.example",
        "u1@acme.example",
    }  # the notices went to the owners
    # mark_dnc is an exit (dnc is in the default exit.on): the last email never goes.
    assert {(r["status"], r["step"], r["exit_reason"]) for r in _rows(db)} == {
        ("exited", "never", "contact is dnc")
    }


def test_without_a_dnc_exit_the_contact_is_still_never_emailed_and_the_skip_says_why(
    db: Database,
) -> None:
    now = "2026-12-01T12:00:00Z"
    text = """
name: Careful
senders: {email: a@acme.example}
schedule: {timezone: UTC, days: every_day, holidays: none}
exit: {on: [replied]}
steps:
  - {key: dnc, action: mark_dnc}
  - {key: never, action: email, subject: "x", body: "<p>x</p>"}
  - {key: tag, action: add_tag, tag: reviewed}
"""
    with write(db) as session:
        store(session, text, at(now))
        contact = add_contact(session, at(now))
    _enroll(db, "Careful", [contact], now)
    run_worker(db, now)
    with db.sessions() as session:
        (skipped,) = list_history(session=session, types=["skipped"])
        assert outbox.list_messages(session=session) == []
    assert (skipped["step"], skipped["reason"]) == ("never", "contact is do-not-contact")
    assert _rows(db)[0]["status"] == "completed"


HAND_OFF = """
name: Hand-off
schedule: {timezone: UTC, days: every_day, holidays: none}
steps:
  - {key: next, action: enroll, sequence: Nurture}
  - {key: out, action: unenroll, sequence: Cold}
"""
TWO_DAYS = """
name: {name}
schedule: {{timezone: UTC, days: every_day, holidays: none}}
steps:
  - {{key: later, action: end, wait: {{days: 2}}}}
"""


def test_a_step_hands_the_contact_to_one_sequence_and_takes_it_out_of_another(
    db: Database,
) -> None:
    now = "2026-12-01T12:00:00Z"
    with write(db) as session:
        store(session, HAND_OFF, at(now))
        store(session, TWO_DAYS.format(name="Nurture"), at(now))
        store(session, TWO_DAYS.format(name="Cold"), at(now))
        contact = add_contact(session, at(now))
    _enroll(db, "Cold", [contact], now)
    _enroll(db, "Hand-off", [contact], now)
    run_worker(db, now)
    by_sequence = {row["sequence"]: row for row in _rows(db)}
    assert by_sequence["Nurture"]["status"] == "active"
    assert by_sequence["Nurture"]["due_at"] == at("2026-12-03T12:00:00Z").isoformat()
    assert by_sequence["Cold"]["status"] == "exited"
    assert by_sequence["Cold"]["exit_reason"] == "unenrolled by Hand-off"
    with db.sessions() as session:
        (enrolled,) = [
            e
            for e in list_history(session=session, types=["enrolled"])
            if e["actor"] == "sequence:Hand-off"
        ]
    assert enrolled["contact_id"] == contact
