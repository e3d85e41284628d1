"""The rep's to-do list and task work on both databases: true totals past 1,000, the person's
zone for "today", a manual email edited and sent through the outbox to a real SMTP server,
compliance refusing it, a call log, skip and reschedule, and who sees which tasks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cadenza.clock import FixedClock
from cadenza.engine.dispatcher import Dispatcher
from cadenza.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cadenza.services import enrollments
from cadenza.services import tasks as task_service
from cadenza.services.history import list_history
from cadenza.services.tasks import TaskFilter, queue
from cadenza.services.users import add_group, add_user
from cadenza.services.users.access import Viewer, viewer_of
from cadenza.settings import Settings
from cadenza.store import bulk
from cadenza.store.models import Contact, Enrollment, Message, Task, User
from tests.conftest import Database
from tests.engine_helpers import SETTINGS, add_contact, at, run_worker, store, write
from tests.smtp_server import Catcher, smtp_catcher

T0 = "2026-03-02T15:00:00Z"  # a Monday, 09:00 in Chicago
ANA, BO, MIA, ROOT = "ana@example.com", "bo@example.com", "mia@example.com", "root@example.com"
WORK = """\
name: Workspace
owner: ana@example.com
senders: {email: sales@example.com, sms: "+13125550100"}
schedule: {timezone: America/Chicago, days: every_day, holidays: none}
steps:
  - key: write
    action: manual_email
    assignee: contact_owner
    subject: "Hi {{ contact.first_name }}"
    body: "Hello {{ contact.first_name }}, I am {{ user.name }}."
    track: {opens: true}
  - {key: ring, action: call, assignee: contact_owner, wait: {hours: 1}}
"""


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    with write(db) as session:
        ids = {
            email: add_user(session=session, email=email, name=name, role=role, now=at(T0)).id
            for email, name, role in (
                (ANA, "Ana Alvarez", "agent"),
                (BO, "Bo Berg", "agent"),
                (MIA, "Mia Moss", "manager"),
                (ROOT, "Root", "admin"),
            )
        }
        add_group(session=session, name="east", member_emails=[ANA, MIA])
        store(session, WORK, at(T0))
    return ids


def viewer(db: Database, email: str) -> Viewer:
    with db.sessions() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return viewer_of(session=session, user=user, settings=SETTINGS)


def _tasks(db: Database, people: dict[str, int], count: int, kind: str, who: str) -> None:
    """Open tasks in bulk (as many as a busy team has), due a minute apart."""
    with write(db) as session:
        contact = add_contact(session, at(T0), email=f"{kind}.{who}", phone=None)
        sequence_id = session.scalar(select(Enrollment.sequence_id).limit(1))
        rows: list[dict[str, Any]] = [
            {
                "contact_id": contact,
                "sequence_id": sequence_id,
                "kind": kind,
                "assignee_id": people[who],
                "title": f"{kind} {i}",
                "priority": "high" if i % 10 == 0 else "normal",
                "reminder": False,
                "status": "open",
                "due_at": at(T0) + timedelta(minutes=i),
                "created_at": at(T0),
            }
            for i in range(count)
        ]
        bulk.insert_rows(session, Task.__table__, rows)  # type: ignore[arg-type]


def _enroll(db: Database, **fields: Any) -> int:
    with write(db) as session:
        contact = add_contact(session, at(T0), owner_id=_user_id(session, ANA), **fields)
        enrollments.enroll(
            session=session,
            sequence="Workspace",
            contact_ids=[contact],
            now=at(T0),
            settings=SETTINGS,
        )
    run_worker(db, T0)
    return contact


def _user_id(session: Any, email: str) -> int:
    return int(session.scalar(select(User.id).where(User.email == email)))


def _open_task(db: Database, contact_id: int) -> Task:
    with db.sessions() as session:
        return session.scalars(
            select(Task).where(Task.contact_id == contact_id, Task.status == "open")
        ).one()


def test_the_list_counts_every_task_pages_past_1000_and_scopes_by_person(
    db: Database, people: dict[str, int]
) -> None:
    _enroll(db)  # the sequence has an enrollment, the bulk tasks borrow its sequence
    _tasks(db, people, 700, "call", ANA)
    _tasks(db, people, 450, "task", ANA)
    _tasks(db, people, 30, "call", BO)
    now, zone = at(T0), "America/Chicago"
    ana = viewer(db, ANA)
    with db.sessions() as session:
        args: dict[str, Any] = {"session": session, "now": now, "zone_name": zone}
        mine = queue.counts(flt=TaskFilter(), viewer=ana, **args)
        assert mine.total == 1151  # 700 + 450 + the manual email of the enrollment
        assert mine.by_kind == {"call": 700, "task": 450, "manual_email": 1}
        calls = queue.counts(flt=TaskFilter(kind="call"), viewer=ana, **args)
        assert calls.total == 700 and calls.by_kind["task"] == 450  # other types still counted
        high = queue.counts(flt=TaskFilter(priority="high", kind="call"), viewer=ana, **args)
        assert high.total == 70
        shown = queue.page(flt=TaskFilter(kind="task"), viewer=ana, offset=400, limit=100, **args)
        assert len(shown) == 50 and {r.kind for r in shown} == {"task"}
        last = queue.page(flt=TaskFilter(), viewer=ana, offset=1150, limit=50, **args)
        assert len(last) == 1
        pages = [
            r.id
            for offset in range(0, 1151, 50)
            for r in queue.page(flt=TaskFilter(), viewer=ana, offset=offset, limit=50, **args)
        ]
        assert len(pages) == len(set(pages)) == 1151  # every task once: a stable order
        with pytest.raises(Forbidden):
            queue.counts(flt=TaskFilter(assignee="all"), viewer=ana, **args)
        mia = viewer(db, MIA)
        everyone = queue.counts(flt=TaskFilter(assignee="all"), viewer=mia, **args)
        assert everyone.total == 1181
        bos = queue.counts(flt=TaskFilter(assignee=BO), viewer=mia, **args)
        assert bos.total == 30
        with pytest.raises(ValidationFailed, match="due 'soon'"):
            TaskFilter(due="soon").checked()


def test_today_is_the_persons_today(db: Database, people: dict[str, int]) -> None:
    _tasks(db, people, 3, "call", ANA)  # due 15:00, 15:01, 15:02 UTC on Monday
    ana = viewer(db, ANA)
    late = at("2026-03-02T23:30:00Z")  # 17:30 Monday in Chicago, 05:00 Tuesday in Kolkata
    with db.sessions() as session:

        def due(which: str, zone: str) -> int:
            flt = TaskFilter(due=which)
            return queue.counts(
                session=session, flt=flt, viewer=ana, now=late, zone_name=zone
            ).total

        assert (due("today", "America/Chicago"), due("overdue", "America/Chicago")) == (3, 0)
        assert (due("today", "Asia/Kolkata"), due("overdue", "Asia/Kolkata")) == (0, 3)
        assert due("upcoming", "America/Chicago") == 0


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    with smtp_catcher() as running:
        yield running


def _dispatch(db: Database, settings: Settings, now: str) -> int:
    dispatcher = Dispatcher(db.sessions, FixedClock(at(now)), settings)
    try:
        return dispatcher.drain()
    finally:
        dispatcher.close()


def test_an_edited_manual_email_is_sent_through_the_outbox_and_the_sequence_moves_on(
    db: Database, people: dict[str, int], catcher: Catcher, tmp_path: Path
) -> None:
    contact = _enroll(db)
    task = _open_task(db, contact)
    assert task.kind == "manual_email"
    assert task.body == "Hello Jane, I am Ana Alvarez."  # `user.*` is the assignee
    ana = viewer(db, ANA)
    with pytest.raises(Forbidden):  # Bo may not send Ana's email
        with write(db) as session:
            task_service.send_manual(
                session=session,
                task_id=task.id,
                subject="x",
                body="x",
                now=at(T0),
                settings=SETTINGS,
                viewer=viewer(db, BO),
            )
    with write(db) as session:
        sent = task_service.send_manual(
            session=session,
            task_id=task.id,
            subject="Quick question, Jane",
            body="Hello Jane,\n\nI rewrote this <myself>.\nhttps://acme.example/pricing",
            now=at(T0),
            settings=SETTINGS,
            viewer=ana,
        )
        assert sent.meta["sent_by"] == ANA and sent.key == f"task:{task.id}"
    settings = Settings(
        environment="test",
        smtp_port=catcher.port,
        base_url="https://c.example",
        sms_sink_path=str(tmp_path / "sink.jsonl"),
        secret_key="s3cret",
    )
    assert _dispatch(db, settings, "2026-03-02T15:00:05Z") == 1
    [mail] = catcher.messages
    assert mail["Subject"] == "Quick question, Jane"
    assert mail["To"].addresses[0].addr_spec == "jane@example.com"
    assert "https://c.example/u/" in mail["List-Unsubscribe"]
    html = mail.get_body(("html",)).get_content()
    assert "I rewrote this &lt;myself&gt;.<br>" in html
    assert "https://c.example/t/o/" in html  # the step tracks opens
    with db.sessions() as session:
        done = session.get(Task, task.id)
        assert done is not None and (done.status, done.outcome) == ("done", "none")
        enrollment = session.scalars(select(Enrollment)).one()
        assert (enrollment.status, enrollment.step) == ("active", "ring")
        queued = list_history(session=session, types=["message_queued"])
        assert [(e["actor"], e["reason"]) for e in queued] == [(ANA, f"sent by {ANA}")]
    with pytest.raises(Conflict, match="already done"), write(db) as session:
        task_service.send_manual(
            session=session,
            task_id=task.id,
            subject="again",
            body="again",
            now=at(T0),
            settings=SETTINGS,
            viewer=ana,
        )


def test_a_manual_email_to_an_unsubscribed_contact_is_refused_and_nothing_changes(
    db: Database, people: dict[str, int]
) -> None:
    contact = _enroll(db)
    task = _open_task(db, contact)
    with pytest.raises(ValidationFailed, match="empty"), write(db) as session:
        task_service.send_manual(
            session=session,
            task_id=task.id,
            subject="Hi",
            body="  ",
            now=at(T0),
            settings=SETTINGS,
            viewer=viewer(db, ROOT),
        )
    with write(db) as session:  # unsubscribed after the task was made: it must not go
        session.execute(update(Contact).values(email_unsubscribed=True))
    with pytest.raises(Conflict, match="unsubscribed"), write(db) as session:
        task_service.send_manual(
            session=session,
            task_id=task.id,
            subject="Hi",
            body="Hello",
            now=at(T0),
            settings=SETTINGS,
            viewer=viewer(db, ANA),
        )
    with db.sessions() as session:
        assert session.scalars(select(Message)).all() == []
        assert session.get(Task, task.id).status == "open"  # type: ignore[union-attr]


def test_a_call_is_logged_skipped_and_rescheduled_with_history_naming_the_person(
    db: Database, people: dict[str, int]
) -> None:
    contact = _enroll(db)
    first = _open_task(db, contact)
    ana = viewer(db, ANA)
    with write(db) as session:
        later = at("2026-03-03T16:00:00Z")
        task_service.reschedule_task(
            session=session, task_id=first.id, due_at=later, now=at(T0), viewer=ana
        )
        with pytest.raises(ValidationFailed, match="still to come"):
            task_service.reschedule_task(
                session=session, task_id=first.id, due_at=at(T0), now=at(T0), viewer=ana
            )
    with write(db) as session:
        task_service.skip_task(
            session=session, task_id=first.id, now=at(T0), settings=SETTINGS, viewer=ana
        )
    run_worker(db, "2026-03-02T16:05:00Z")  # the call step's hour has passed
    call = _open_task(db, contact)
    assert call.kind == "call"
    with write(db) as session:
        task_service.log_call(
            session=session,
            task_id=call.id,
            result="left_voicemail",
            duration_seconds=95,
            note="Left a message about pricing",
            now=at("2026-03-02T16:10:00Z"),
            settings=SETTINGS,
            viewer=ana,
        )
        with pytest.raises(ValidationFailed, match="duration"):
            task_service.log_call(
                session=session,
                task_id=call.id,
                result="busy",
                duration_seconds=-1,
                note="",
                now=at(T0),
                settings=SETTINGS,
                viewer=ana,
            )
    with db.sessions() as session:
        assert session.get(Task, first.id).status == "skipped"  # type: ignore[union-attr]
        events = list_history(session=session, contact_id=contact)
    by_type = {e["type"]: e for e in events}
    assert by_type["task_rescheduled"]["actor"] == ANA
    assert by_type["skipped"]["reason"] == f"moved on by {ANA}"
    logged = by_type["call_logged"]
    assert logged["actor"] == ANA and logged["step"] == "ring"
    assert logged["data"]["duration_seconds"] == 95
    assert logged["data"]["note"] == "Left a message about pricing"


def test_a_task_is_seen_by_its_assignee_and_those_who_see_its_sequence(
    db: Database, people: dict[str, int]
) -> None:
    with write(db) as session:
        store(
            session,
            WORK.replace("Workspace", "Private").replace(
                "steps:", "sharing: {mode: private, access: view}\nsteps:"
            ),
            at(T0),
        )
        contact = add_contact(session, at(T0), owner_id=people[ANA])
        enrollments.enroll(
            session=session,
            sequence="Private",
            contact_ids=[contact],
            now=at(T0),
            settings=SETTINGS,
        )
    run_worker(db, T0)
    task = _open_task(db, contact)
    with db.sessions() as session:
        for who in (ANA, MIA, ROOT):
            seen = task_service.task_seen(session=session, task_id=task.id, viewer=viewer(db, who))
            assert seen.id == task.id
        with pytest.raises(NotFound):
            task_service.task_seen(session=session, task_id=task.id, viewer=viewer(db, BO))
