"""People's operations and versions, through the services and the worker, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from cadenza.errors import Conflict, ValidationFailed
from cadenza.services import enrollments, outbox, sequences, tasks
from cadenza.services.history import list_history
from cadenza.services.tasks import list_tasks
from cadenza.store.models import Sequence, SequenceVersion
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write

T0 = "2026-12-01T15:00:00Z"  # Tuesday, 09:00 in Chicago where the contacts live

DRIP = """
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
enrollment: {reentry: REENTRY}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
  - {key: call, action: call, wait: {hours: 1}, assignee: contact_owner}
  - {key: again, action: email, wait: {days: 1}, subject: "SUBJECT", body: "<p>2</p>"}
"""


def drip(reentry: str = "never", subject: str = "Again", name: str = "Drip") -> str:
    text = DRIP.replace("REENTRY", reentry).replace("SUBJECT", subject)
    return text.replace("name: Drip", f"name: {name}")


def setup(db: Database, text: str, contacts: int = 1) -> list[int]:
    """Store the definition and enroll `contacts` new contacts at T0; their enrollment ids."""
    with write(db) as session:
        definition = store(session, text, at(T0))
        ids = [
            add_contact(session, at(T0), email=f"c{i}@example.com", phone=f"+1312555010{i}")
            for i in range(contacts)
        ]
        report = enrollments.enroll(
            session=session,
            sequence=definition.name,
            contact_ids=ids,
            now=at(T0),
            settings=SETTINGS,
        )
        assert len(report.enrolled) == contacts, report.refused
    return [int(row["id"]) for row in rows(db)]


def call(db: Database, operation: Any, when: str = T0, **arguments: Any) -> Any:
    """Run a lifecycle operation as a person ('ana') would, in its own transaction."""
    with write(db) as session:
        return operation(session=session, now=at(when), actor="ana", **arguments)


def rows(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as session:
        return enrollments.list_enrollments(session=session)


def row(db: Database, enrollment_id: int) -> dict[str, Any]:
    return next(r for r in rows(db) if r["id"] == enrollment_id)


def sent(db: Database) -> list[tuple[int, str]]:
    """(contact, step) of every outbox message, in order."""
    with db.sessions() as session:
        return [
            (int(m["contact_id"]), str(m["step"])) for m in outbox.list_messages(session=session)
        ]


def reach_call(db: Database) -> None:
    """Run the worker until live enrollments sent hello and wait on their call task."""
    run_worker(db, T0)
    run_worker(db, "2026-12-01T16:00:00Z")


def open_tasks(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as session:
        return list_tasks(session=session, status="open")


def sequence_status(db: Database, name: str = "Drip") -> str:
    with db.sessions() as session:
        return str(session.scalar(select(Sequence.status).where(Sequence.name == name)))


# --- sequences ---------------------------------------------------------------------------------


def test_paused_sequence_moves_nothing_and_resume_runs_what_became_due(db: Database) -> None:
    first, second = setup(db, drip(), contacts=2)
    assert call(db, sequences.pause, name="Drip") == 2
    assert run_worker(db, "2026-12-01T18:00:00Z") == 0
    assert sent(db) == [] and {r["status"] for r in rows(db)} == {"paused"}
    assert call(db, sequences.resume, when="2026-12-01T18:00:00Z", name="Drip") == 2
    run_worker(db, "2026-12-01T18:00:00Z")
    assert sorted(step for _, step in sent(db)) == ["hello", "hello"]
    assert sequence_status(db) == "active"
    with db.sessions() as session:
        paused = list_history(session=session, types=["paused"])
    assert {(e["enrollment_id"], e["reason"]) for e in paused} == {
        (first, "sequence paused by ana"),
        (second, "sequence paused by ana"),
    }


def test_a_person_paused_enrollment_stays_paused_when_the_sequence_resumes(db: Database) -> None:
    mine, other = setup(db, drip(), contacts=2)
    call(db, enrollments.pause_enrollment, enrollment_id=mine)
    call(db, sequences.pause, name="Drip")
    call(db, sequences.activate, name="Drip")  # activate resumes a paused sequence
    run_worker(db, "2026-12-01T15:30:00Z")
    assert [step for _, step in sent(db)] == ["hello"]
    assert row(db, mine)["status"] == "paused" and row(db, other)["step"] == "call"
    call(db, enrollments.resume_enrollment, enrollment_id=mine)
    run_worker(db, "2026-12-01T15:30:00Z")
    assert [step for _, step in sent(db)] == ["hello", "hello"]


def test_a_person_resuming_under_a_paused_sequence_leaves_it_to_the_sequence(
    db: Database,
) -> None:
    (enrollment,) = setup(db, drip())
    call(db, enrollments.pause_enrollment, enrollment_id=enrollment)
    call(db, sequences.pause, name="Drip")
    call(db, enrollments.resume_enrollment, enrollment_id=enrollment)
    assert row(db, enrollment)["status"] == "paused"
    with pytest.raises(Conflict, match="resume the sequence"):
        call(db, enrollments.resume_enrollment, enrollment_id=enrollment)
    call(db, sequences.resume, name="Drip")
    assert row(db, enrollment)["status"] == "active"


def test_end_exits_everyone_cancels_open_tasks_and_is_irreversible(db: Database) -> None:
    waiting, paused = setup(db, drip(), contacts=2)
    reach_call(db)  # both sent hello and now wait on a call task
    call(db, enrollments.pause_enrollment, enrollment_id=paused)
    assert len(open_tasks(db)) == 2
    assert call(db, sequences.end, when="2026-12-01T16:30:00Z", name="Drip") == 2
    for enrollment in (waiting, paused):
        assert row(db, enrollment)["status"] == "exited"
        assert row(db, enrollment)["exit_reason"] == "sequence ended"
    assert open_tasks(db) == []
    with pytest.raises(Conflict, match="is ended"):
        call(db, sequences.activate, name="Drip")
    with pytest.raises(Conflict, match="is ended"):
        call(db, sequences.resume, name="Drip")
    run_worker(db, "2026-12-05T16:00:00Z")
    assert [step for _, step in sent(db)] == ["hello", "hello"]
    with db.sessions() as session:
        (ended,) = list_history(session=session, types=["sequence_ended"])
    assert (ended["actor"], ended["reason"], ended["data"]) == (
        "ana",
        "ended by ana",
        {"enrollments": 2},
    )


def test_archive_refused_while_enrollments_run_allowed_once_ended(db: Database) -> None:
    setup(db, drip())
    with pytest.raises(Conflict, match="1 running enrollments"):
        call(db, sequences.archive, name="Drip")
    call(db, sequences.end, name="Drip")
    call(db, sequences.archive, name="Drip")
    assert sequence_status(db) == "archived"


def test_delete_refused_with_any_enrollment_allowed_without(db: Database) -> None:
    (enrollment,) = setup(db, drip())
    call(db, enrollments.remove, enrollment_id=enrollment)  # a tombstone still counts
    with pytest.raises(Conflict, match="1 enrollments"):
        call(db, sequences.delete, name="Drip")
    with write(db) as session:
        store(session, drip(name="Unused"), at(T0))
        store(session, drip(name="Unused", subject="v2"), at(T0))
    call(db, sequences.delete, name="Unused")
    with db.sessions() as session:
        assert list(session.scalars(select(Sequence.name))) == ["Drip"]
        assert session.scalar(select(func.count()).select_from(SequenceVersion)) == 1


def test_clone_is_a_draft_with_the_same_steps_under_the_new_name(db: Database) -> None:
    with write(db) as session:
        store(session, drip(), at(T0))
        store(session, drip(subject="Latest"), at(T0))
    call(db, sequences.clone, name="Drip", new_name="Drip copy")
    with db.sessions() as session:
        copy = session.execute(select(Sequence).where(Sequence.name == "Drip copy")).scalar_one()
        versions = list(
            session.scalars(select(SequenceVersion).where(SequenceVersion.sequence_id == copy.id))
        )
    assert copy.status == "draft"
    (version,) = versions
    assert version.number == 1 and version.definition["name"] == "Drip copy"
    assert [s["key"] for s in version.definition["steps"]] == ["hello", "call", "again"]
    assert version.definition["steps"][2]["subject"] == "Latest"
    with pytest.raises(Conflict, match="already exists"):
        call(db, sequences.clone, name="Drip", new_name="Drip copy")


# --- enrollments -------------------------------------------------------------------------------


def test_stop_cancels_the_open_call_task_and_pauses_and_resume_calls_again(db: Database) -> None:
    (enrollment,) = setup(db, drip())
    reach_call(db)
    (task,) = open_tasks(db)
    call(db, enrollments.stop, when="2026-12-01T16:10:00Z", enrollment_id=enrollment)
    assert row(db, enrollment)["status"] == "paused"
    with db.sessions() as session:
        (canceled,) = list_tasks(session=session, status="canceled")
    assert canceled["id"] == task["id"] and open_tasks(db) == []
    run_worker(db, "2026-12-03T16:00:00Z")
    assert row(db, enrollment)["status"] == "paused"
    call(db, enrollments.resume_enrollment, when="2026-12-03T16:00:00Z", enrollment_id=enrollment)
    run_worker(db, "2026-12-03T16:00:00Z")
    (again,) = open_tasks(db)
    assert again["step"] == "call" and again["id"] != task["id"]


def test_removed_contact_is_refused_under_reentry_never(db: Database) -> None:
    (enrollment,) = setup(db, drip("never"))
    run_worker(db, T0)
    contact_id = int(row(db, enrollment)["contact_id"])
    call(db, enrollments.remove, enrollment_id=enrollment)
    assert row(db, enrollment)["status"] == "removed"
    with db.sessions() as session:
        events = list_history(session=session, contact_id=contact_id)
    assert [e["type"] for e in events if e["enrollment_id"] == enrollment] == ["removed"]
    assert sent(db) == []  # the queued hello was taken back
    with write(db) as session:
        report = enrollments.enroll(
            session=session,
            sequence="Drip",
            contact_ids=[contact_id],
            now=at(T0),
            settings=SETTINGS,
        )
    assert report.refused == [(contact_id, "already enrolled once (reentry: never)")]


def test_removed_contact_may_come_back_under_reentry_after_exit(db: Database) -> None:
    (enrollment,) = setup(db, drip("after_exit"))
    contact_id = int(row(db, enrollment)["contact_id"])
    call(db, enrollments.remove, enrollment_id=enrollment)
    with write(db) as session:
        report = enrollments.enroll(
            session=session,
            sequence="Drip",
            contact_ids=[contact_id],
            now=at(T0),
            settings=SETTINGS,
        )
    assert report.enrolled == [contact_id]


def test_skip_moves_on_now_cancels_the_awaited_task_and_completes_past_the_end(
    db: Database,
) -> None:
    (enrollment,) = setup(db, drip())
    call(db, enrollments.skip_to_next, enrollment_id=enrollment, settings=SETTINGS)
    assert row(db, enrollment)["step"] == "call"
    run_worker(db, T0)  # the call is due now, not an hour after a hello that never ran
    assert sent(db) == [] and row(db, enrollment)["status"] == "waiting"
    assert len(open_tasks(db)) == 1
    later = "2026-12-01T15:05:00Z"
    call(db, enrollments.skip_to_next, when=later, enrollment_id=enrollment, settings=SETTINGS)
    assert open_tasks(db) == [] and row(db, enrollment)["due_at"] == at(later).isoformat()
    run_worker(db, later)
    assert [step for _, step in sent(db)] == ["again"]
    assert row(db, enrollment)["status"] == "completed"
    with db.sessions() as session:
        skipped = list_history(session=session, types=["skipped"])
    assert [(e["step"], e["reason"]) for e in skipped] == [
        ("hello", "moved on by ana"),
        ("call", "moved on by ana"),
    ]


def test_skip_on_the_last_step_completes(db: Database) -> None:
    (enrollment,) = setup(db, drip())
    for _ in range(2):
        call(db, enrollments.skip_to_next, enrollment_id=enrollment, settings=SETTINGS)
    assert row(db, enrollment)["step"] == "again"
    call(db, enrollments.skip_to_next, enrollment_id=enrollment, settings=SETTINGS)
    assert row(db, enrollment)["status"] == "completed"
    with pytest.raises(Conflict, match="completed"):
        call(db, enrollments.skip_to_next, enrollment_id=enrollment, settings=SETTINGS)


# --- versions ----------------------------------------------------------------------------------

RENAMED = """
name: Drip
senders: {email: sales@example.com}
schedule: {days: every_day, holidays: none}
steps:
  - {key: hello, action: email, subject: "Hello", body: "<p>1</p>"}
  - {key: phone, action: call, wait: {hours: 1}, assignee: contact_owner}
  - {key: nudge, action: email, wait: {hours: 2}, subject: "Nudge", body: "<p>n</p>"}
  - {key: again, action: email, wait: {days: 1}, subject: "Again v2", body: "<p>2</p>"}
"""


def new_version(db: Database, text: str) -> None:
    with write(db) as session:
        store(session, text, at(T0))


def version_of(db: Database, enrollment_id: int) -> int:
    version_id = row(db, enrollment_id)["version"]
    with db.sessions() as session:
        query = select(SequenceVersion.number).where(SequenceVersion.id == version_id)
        return int(session.execute(query).scalar_one())


def test_running_enrollments_stay_on_their_version_when_a_new_one_is_applied(
    db: Database,
) -> None:
    (old,) = setup(db, drip())
    reach_call(db)  # mid-way: hello sent, waiting on the call
    new_version(db, drip(subject="Changed"))
    _complete_call(db, "2026-12-01T16:30:00Z")
    run_worker(db, "2026-12-02T16:30:00Z")
    with db.sessions() as session:
        messages = outbox.list_messages(session=session)
    assert [(m["step"], m["subject"]) for m in messages] == [("hello", "Hello"), ("again", "Again")]
    assert version_of(db, old) == 1 and row(db, old)["status"] == "completed"
    with write(db) as session:
        fresh = add_contact(session, at(T0), email="new@example.com")
        enrollments.enroll(
            session=session, sequence="Drip", contact_ids=[fresh], now=at(T0), settings=SETTINGS
        )
    assert version_of(db, rows(db)[-1]["id"]) == 2


def test_migrate_without_a_map_keeps_the_wait_on_the_task(db: Database) -> None:
    (enrollment,) = setup(db, drip())
    reach_call(db)
    new_version(db, drip(subject="Changed"))
    report = call(db, sequences.migrate, sequence="Drip", to_version=2, step_map={})
    assert report.moved == {1: 1} and report.restarted == []
    assert version_of(db, enrollment) == 2 and row(db, enrollment)["status"] == "waiting"
    _complete_call(db, "2026-12-01T16:30:00Z")
    run_worker(db, "2026-12-02T16:30:00Z")
    with db.sessions() as session:
        subjects = [m["subject"] for m in outbox.list_messages(session=session)]
    assert subjects == ["Hello", "Changed"]


def test_migrate_with_a_map_follows_renamed_steps_and_restarts_a_changed_kind(
    db: Database,
) -> None:
    on_call, on_hello = setup(db, drip(), contacts=2)
    call(db, enrollments.pause_enrollment, enrollment_id=on_hello)
    reach_call(db)  # only on_call moves on: it waits on its call
    new_version(db, RENAMED)
    report = call(db, sequences.migrate, sequence="Drip", to_version=2, step_map={"call": "phone"})
    assert report.moved == {1: 2} and report.restarted == []
    assert (row(db, on_call)["step"], row(db, on_call)["status"]) == ("phone", "waiting")
    (task,) = open_tasks(db)
    assert task["step"] == "phone"
    _complete_call(db, "2026-12-01T16:30:00Z")
    assert row(db, on_call)["step"] == "nudge"  # the route is version 2's
    assert row(db, on_hello)["status"] == "paused"
    with db.sessions() as session:
        (migrated, _) = list_history(session=session, types=["migrated"])
    assert migrated["data"]["from_step"] == "call" and migrated["data"]["to_step"] == "phone"
    assert migrated["reason"] == "version 1 to 2 by ana"


def test_migrate_to_a_step_of_another_kind_makes_it_active_and_due_now(db: Database) -> None:
    (enrollment,) = setup(db, drip())
    reach_call(db)
    new_version(db, RENAMED)
    when = "2026-12-01T16:10:00Z"
    report = call(
        db, sequences.migrate, when=when, sequence="Drip", to_version=2, step_map={"call": "nudge"}
    )
    assert report.restarted == [enrollment]
    assert (row(db, enrollment)["status"], row(db, enrollment)["due_at"]) == (
        "active",
        at(when).isoformat(),
    )
    assert open_tasks(db) == []
    run_worker(db, when)
    assert [step for _, step in sent(db)] == ["hello", "nudge"]


def test_migrate_refuses_unmapped_steps_with_counts_and_changes_nothing(db: Database) -> None:
    setup(db, drip(), contacts=3)
    reach_call(db)  # all three wait on 'call'
    new_version(db, RENAMED)
    before = rows(db)
    with pytest.raises(ValidationFailed, match=r"'call' \(3 enrollments\)"):
        call(db, sequences.migrate, sequence="Drip", to_version=2, step_map={})
    with pytest.raises(ValidationFailed, match="no step 'ring'"):
        call(db, sequences.migrate, sequence="Drip", to_version=2, step_map={"call": "ring"})
    assert rows(db) == before
    with db.sessions() as session:
        assert list_history(session=session, types=["migrated"]) == []


def _complete_call(db: Database, when: str) -> None:
    (task,) = open_tasks(db)
    with write(db) as session:
        tasks.complete_task(
            session=session,
            task_id=int(task["id"]),
            outcome="no_answer",
            now=at(when),
            settings=SETTINGS,
        )


def test_completing_a_task_reads_its_enrollment_once_and_routes_it(db: Database) -> None:
    """The enrollment is read once, locked, and not again after the outcome is applied: each
    read was a round trip of every task completed through the API."""
    (enrollment,) = setup(db, drip())
    reach_call(db)
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "\nFROM enrollments" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        _complete_call(db, "2026-12-01T16:30:00Z")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(reads) == 1, reads
    assert (db.backend == "sqlite") or "FOR UPDATE" in reads[0]
    assert (row(db, enrollment)["step"], row(db, enrollment)["status"]) == ("again", "active")
    assert open_tasks(db) == []
